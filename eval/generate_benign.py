"""Benign half of the Palisade efficacy corpus: API traffic that looks like
real clients and is easy to misjudge. Each case's category names the attack
class it most resembles, or `general`."""

import base64
import json
import random
import urllib.parse
import zlib

FIRST = ["James", "Mary", "Seán", "Siobhán", "Conan", "Aoife", "Zoë", "José", "François", "Ørjan", "Łukasz",
         "Nguyễn", "Priya", "Mohammed", "Chloé", "Björn", "Anaïs", "D'Arcy", "Jean-Luc", "Mei", "Ólafur", "Kai"]
LAST = ["O'Brien", "O'Neil", "D'Angelo", "McDonald", "Smith-Jones", "de la Cruz", "Müller", "Van der Berg",
        "O'Connor", "Nakamura", "Dell'Acqua", "N'Diaye", "Al-Hassan", "L'Estrange", "García", "Kowalski", "Ó Súilleabháin",
        "d'Artagnan", "St. John", "Fitz-Simmons"]
CITIES = ["Dublin", "Köln", "São Paulo", "Zürich", "L'Aquila", "Côte-d'Or", "Kraków", "Reykjavík", "Montréal", "Ōsaka"]
STREETS = ["O'Connell St", "Rue de l'Église", "Main St; Apt 4", "12 Baker Street, Flat 2B", "Calle 5 #23-10",
           "Av. Paulista, 1578 - Bela Vista", "1600 Amphitheatre Pkwy", "Hauptstraße 5/7", "Unit 3 / 45 King St"]
PRODUCTS = [
    "Select from 3 sizes; drop-in replacement for the 2019 model",
    "100% cotton — 'premium' fit, machine wash at 30°",
    "Table & chairs set (4 pcs) - union of style and comfort",
    "USB-C cable 2m | fast charge | 'braided' jacket",
    "Rock 'n' roll vinyl, 12\" LP, 180g",
    "Order by 3pm for next-day delivery; or collect in store",
    "Drop table leaf sold separately",
    "Update: now with 20% more battery (5000mAh)",
    "Insert cartridge until it clicks; delete old profiles from the app",
    "Dell 27\" monitor; 4K UHD; 60Hz",
    "Fits 5' 10\" to 6' 2\" riders",
    "1/2\" drive socket set, 10-32mm",
    "\"Best\" or \"worst\"? You decide — 30-day returns",
    "Create your own bundle: select any 2 or 3 items",
    "It's the #1 seller; 'where comfort meets style'",
    "Where to buy: see store locator; from $19.99",
    "Ben & Jerry's Cookie Dough 473ml",
    "AT&T compatible; unlocked",
    "Price: $1,299.99 (was $1,499.99) - save 13%",
    "Black/White/Grey; sizes S-M-L-XL",
    "Salt & pepper grinder set (2 pcs)",
    "Exec chair — ergonomic, lumbar support, 5-year warranty",
    "Sleep mask 100% silk; sleep 8 hours like a baby",
    "Cat tree 1.8m; cat toys included",
    "Kids' shoes (ages 3-5) — 'light-up' soles",
]
REVIEWS = [
    "I really liked this product, it's great for my kitchen. Would buy again!",
    "Didn't fit. Returned it; refund took 3 days. Support was 'okay' I guess.",
    "Select the best option; I'd drop the 2nd one. 5/5 overall.",
    "Works as advertised -- battery lasts ~2 days. Only issue: the app asks for too many permissions.",
    "Honestly? It's fine. Not great, not terrible. 3 stars.",
    "My son (age 7) loves it!!! He uses it every day after school :)",
    "Bought 2, one was broken on arrival; replacement came fast. Thanks team!",
    "If you're 6'2\" like me, get the XL. The L is too short.",
    "Great value for money. Shipping to Côte d'Ivoire took 2 weeks though.",
    "Where do I find the manual? The link on the box (www.example.com/manual) is dead.",
    "Update: after 6 months the hinge broke. Down to 2 stars.",
    "This is the best purchase I've made this year -- or ever, really.",
    "Not sure why people complain; mine works perfectly. Maybe a bad batch?",
    "The colour is more 'navy' than 'royal blue' as pictured.",
    "Order arrived on time; packaging was eco-friendly. Love that!",
    "Can't believe the price drop - got it for half of what I paid last year :(",
    "Wish it had a longer cable, otherwise 10/10.",
    "1 star. Stopped working after 1 week; 'customer service' never replied.",
    "Tip: charge it fully before first use, or the battery gauge is off.",
    "Ich bin sehr zufrieden, schnelle Lieferung und gute Qualität.",
    "Très bon produit, je recommande ! Livraison rapide.",
    "非常好用，物流也很快。",
    "とても使いやすいです。また買いたいです。",
    "Отличный товар, всем советую!",
    "منتج رائع وسعر مناسب",
    "Muy buen producto; llegó antes de lo esperado.",
    "Ótimo produto, recomendo! Chegou em 2 dias.",
    "Bardzo dobry produkt, polecam :)",
    "좋은 제품입니다. 배송도 빨라요.",
    "Sản phẩm tốt, giao hàng nhanh.",
]
SEARCHES = ["\"red shoes\"", "\"red shoes\" or \"blue shoes\"", "o'reilly books", "women's jackets", "kids' toys under $20",
            "\"exact phrase\" -exclude", "c++ programming", "c# vs java", "select comfort mattress", "union jack flag",
            "drop earrings", "delete key replacement", "1/2 inch drill bit", "100% wool", "rock 'n' roll",
            "what's new", "5' x 8' rug", "tom & jerry dvd", "where to buy", "from dusk till dawn", "and/or",
            "size: 10", "price < 50", "rating >= 4", "script fonts", "alert bracelet", "iframe cabinet",
            "object lesson", "embed code", "sleep apnea", "ping pong table", "cat food", "id card holder",
            "echo dot", "exec chair", "shell necklace", "bash hat", "python book", "curl cream", "ls 400 manual"]
EMAILS = ["jane.doe@example.com", "o'brien@example.ie", "first.last+tag@sub.example.co.uk", "user_123@example.org",
          "x@example.io", "\"john smith\"@example.com", "info@müller.de"]
URLS = ["https://example.com/a?b=c", "https://shop.example.com/products/42?ref=home&utm_source=news",
        "https://cdn.example.net/img/logo.png", "http://example.org/path/to/page.html#section-2",
        "https://github.com/palisade/palisade/pull/12", "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://api.example.com/v1/webhooks/receive", "https://en.wikipedia.org/wiki/O%27Reilly_Media",
        "https://maps.google.com/?q=52.52,13.40", "https://example.com/search?q=%22quoted%22+terms",
        "https://hooks.slack.com/services/T000/B000/XXXX", "https://example.com/index.php?page=about",
        "https://docs.example.com/guide/../faq", "ftp://ftp.example.org/pub/readme.txt",
        "mailto:help@example.com", "tel:+1-555-123-4567", "https://8.8.8.8/dns-query"]
MARKDOWN = [
    "Try this query in the console:\n\n```sql\nSELECT id, name FROM orders WHERE status = 'open' ORDER BY created_at DESC;\n```\n\nIt should return the open ones.",
    "To reproduce: run `ls -la` in the project folder, then `cat package.json` and check the version.",
    "Install with:\n```\ncurl -fsSL https://example.com/install.sh | bash\n```\nThen restart your shell.",
    "You can use `{{ user.name }}` in the email template to personalise it.",
    "The path is `src/components/../utils/format.ts` (relative import).",
    "I think the bug is in `if (a < b && c > d)` -- the comparison is reversed.",
    "Use `<b>` for bold and `<i>` for italics in the description field.",
    "**Steps**\n1. Open settings\n2. Click *Advanced*\n3. Set `timeout = 30`\n\n> Note: restart required",
    "In Python: `sorted(items, key=lambda x: x['price'])` works fine.",
    "Error log:\n```\nTraceback (most recent call last):\n  File \"app.py\", line 12, in <module>\n    main()\nKeyError: 'user_id'\n```",
    "Quick SQL tip: `DELETE FROM cart WHERE updated_at < NOW() - INTERVAL 30 DAY` clears stale carts.",
    "Regex for postcodes: `^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$`",
    "Config example:\n```yaml\nserver:\n  port: 8080\n  host: 0.0.0.0\n```",
    "JS snippet: `const total = items.reduce((s, i) => s + i.price, 0);`",
    "See the docs at https://docs.example.com/api#auth -- the token goes in the `Authorization` header.",
    "Shell one-liner I use: `find . -name '*.log' -mtime +7 -delete`",
    "The template uses `${customer.firstName}` and `${order.total}` placeholders.",
    "Windows path: C:\\Users\\jane\\Documents\\report.docx",
    "To check connectivity: `ping example.com` then `traceroute example.com`.",
    "Use `git checkout -b feature/login && git push -u origin feature/login`",
    "The old code did `eval(userInput)` which is dangerous - we replaced it with JSON.parse.",
    "Meeting notes: (a) budget; (b) hiring; (c) Q3 roadmap -- owner: O'Brien.",
    "HTML email tip: wrap buttons in a `<table>` for Outlook.",
    "LDAP filter we use internally: `(&(objectClass=user)(memberOf=cn=staff,ou=groups,dc=example,dc=com))`",
]
HTML_RICH = [
    "<p>Hello <b>world</b></p>",
    "<p>Check our <a href=\"https://example.com/sale\" target=\"_blank\" rel=\"noopener\">summer sale</a>!</p>",
    "<h2>Specs</h2><ul><li>Weight: 1.2kg</li><li>Size: 30&times;20cm</li></ul>",
    "<p><img src=\"https://cdn.example.com/p/42.jpg\" alt=\"Product photo\" width=\"300\"></p>",
    "<p style=\"color: #333; font-size: 14px\">Styled paragraph</p>",
    "<blockquote>It's the best thing since sliced bread &mdash; <em>a happy customer</em></blockquote>",
    "<table><tr><th>Size</th><th>Chest</th></tr><tr><td>M</td><td>96&ndash;101 cm</td></tr></table>",
    "<p>Use code <code>SAVE10</code> at checkout.</p><br><hr>",
    "<div class=\"note\"><span>Note:</span> prices include VAT.</div>",
    "<p>5 &lt; 6 &amp;&amp; 7 &gt; 3</p>",
    "<p><img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\" alt=\"dot\"></p>",
    "<ol><li><strong>Open</strong> the lid</li><li>Insert the <u>filter</u></li></ol>",
    "<p>Call us: <a href=\"tel:+15551234567\">+1 555 123 4567</a> or <a href=\"mailto:help@example.com\">email</a></p>",
    "<figure><img src=\"/img/a.webp\" loading=\"lazy\"><figcaption>Front view</figcaption></figure>",
    "<p>Only one left &ndash; order online now!</p>",
]
TEMPLATES = ["Hello {{name}}, your order {{order_id}} has shipped.", "Hi ${first_name}, welcome aboard!",
             "Dear {{ customer.title }} {{ customer.last_name }},", "Total: {{ total | currency }}",
             "{% if vip %}Thanks for being VIP{% endif %}", "Your code is #{code}", "Reset link: {{reset_url}}",
             "Price: ${price} per ${unit}", "Use [[placeholder]] for the name"]
FILENAMES = ["report (final).pdf", "IMG_2024-05-01_12.30.45.jpg", "résumé.docx", "O'Brien contract v2.pdf",
             "data.tar.gz", "notes...txt", "budget & forecast 2025.xlsx", "photo #3.png", "my file [draft].md",
             "setup.exe", "index.html", "styles.min.css", "..hidden-looking.txt", "a;b.csv"]
PATHS_BENIGN = ["docs/guide/intro.md", "images/2024/05/cat.png", "reports/q3/summary.pdf", "src/main.rs",
                "assets/fonts/Inter-Regular.woff2", "home/index", "static/js/app.3f2a1b.js"]
PHONES = ["+1 (555) 123-4567", "+44 20 7946 0958", "0049-30-1234567", "555.123.4567", "+33 1 23 45 67 89"]
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0",
    "okhttp/4.12.0", "python-requests/2.31.0", "curl/8.5.0", "PostmanRuntime/7.36.1",
    "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UD1A.231105.004)",
    "MyApp/3.2.1 (com.example.app; build:512; iOS 17.1.0) Alamofire/5.8.0",
    "Go-http-client/2.0", "Java/17.0.9", "axios/1.6.5", "Googlebot/2.1 (+http://www.google.com/bot.html)",
]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(rng):
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k%d" % rng.randint(1, 9)}).encode())
    payload = b64url(json.dumps({"sub": str(rng.randint(1000, 99999)), "name": rng.choice(FIRST) + " " + rng.choice(LAST),
                                 "iat": 1700000000 + rng.randint(0, 10**6), "scope": "read:orders write:cart"}).encode())
    sig = b64url(bytes(rng.getrandbits(8) for _ in range(64)))
    return "%s.%s.%s" % (header, payload, sig)


def png_b64(rng, n=300):
    raw = b"\x89PNG\r\n\x1a\n" + bytes(rng.getrandbits(8) for _ in range(n))
    return base64.b64encode(raw).decode()


def text_b64(rng):
    doc = {"cart": [rng.randint(1, 500) for _ in range(3)], "note": rng.choice(REVIEWS)}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def uuid(rng):
    h = "%032x" % rng.getrandbits(128)
    return "%s-%s-4%s-a%s-%s" % (h[:8], h[8:12], h[13:16], h[17:20], h[20:32])


def name(rng):
    return "%s %s" % (rng.choice(FIRST), rng.choice(LAST))


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.cases = []
        self.n = 0

    def add(self, category, method, target, headers=None, body=None, note=None):
        self.n += 1
        hdrs = [["user-agent", self.rng.choice(UAS)], ["accept", "application/json"]]
        if self.rng.random() < 0.5:
            hdrs.append(["authorization", "Bearer " + make_jwt(self.rng)])
        if self.rng.random() < 0.3:
            hdrs.append(["cookie", "sid=%032x; theme=dark; lang=en-GB; consent=%s" % (self.rng.getrandbits(128), urllib.parse.quote("{\"ads\":false,\"stats\":true}"))])
        if self.rng.random() < 0.3:
            hdrs.append(["referer", self.rng.choice(["https://shop.example.com/cart", "http://localhost:3000/checkout", "https://www.google.com/", "http://127.0.0.1:8080/admin/orders"])])
        if self.rng.random() < 0.2:
            hdrs.append(["x-forwarded-for", "203.0.113.%d, 10.0.0.%d" % (self.rng.randint(1, 254), self.rng.randint(1, 254))])
        case = {"id": "benign-%05d" % self.n, "label": "benign", "category": category, "method": method,
                "target": target, "headers": hdrs + (headers or [])}
        if body is not None:
            case["body"] = body
        if note:
            case["note"] = note
        self.cases.append(case)

    def json(self, category, method, url, doc, note=None):
        self.add(category, method, url, [["content-type", "application/json"]], json.dumps(doc, ensure_ascii=self.rng.random() < 0.5), note)

    def form(self, category, url, fields, note=None):
        body = urllib.parse.urlencode(fields)
        self.add(category, "POST", url, [["content-type", "application/x-www-form-urlencoded"]], body, note)

    def query(self, category, path, params, note=None):
        self.add(category, "GET", path + "?" + urllib.parse.urlencode(params), note=note)


def build_all(seed=20261124):
    rng = random.Random(seed)
    b = Builder(rng)

    for _ in range(260):  # registrations and profiles
        n = name(rng)
        doc = {"name": n, "email": rng.choice(EMAILS), "phone": rng.choice(PHONES),
               "address": {"street": rng.choice(STREETS), "city": rng.choice(CITIES), "zip": "%05d" % rng.randint(0, 99999)},
               "birthdate": "19%02d-%02d-%02d" % (rng.randint(40, 99), rng.randint(1, 12), rng.randint(1, 28)),
               "newsletter": rng.random() < 0.5, "id": uuid(rng)}
        r = rng.random()
        if r < 0.5:
            b.json("sql_injection", "POST", "/api/v1/users", doc, "profile-json")
        elif r < 0.75:
            b.form("sql_injection", "/register", {"name": n, "email": doc["email"], "city": doc["address"]["city"], "street": doc["address"]["street"]}, "profile-form")
        else:
            b.query("sql_injection", "/api/v1/users/search", {"name": n, "city": doc["address"]["city"]}, "profile-query")

    for _ in range(260):  # product catalogue
        desc = rng.choice(PRODUCTS)
        doc = {"sku": "SKU-%06d" % rng.randint(0, 999999), "title": desc.split(";")[0][:40], "description": desc,
               "price": round(rng.uniform(1, 2000), 2), "tags": rng.sample(["sale", "new", "eco", "kids'", "men's", "b&w", "5*"], 3),
               "attributes": {"size": rng.choice(["S", "M", "L", "XL", "5' 10\""]), "colour": rng.choice(["navy", "off-white", "rosé"])}}
        if rng.random() < 0.7:
            b.json("sql_injection", rng.choice(["POST", "PUT", "PATCH"]), "/api/v1/products/%d" % rng.randint(1, 9999), doc, "product")
        else:
            b.form("sql_injection", "/admin/products", {"title": doc["title"], "description": desc, "price": str(doc["price"])}, "product-form")

    for _ in range(300):  # reviews and comments (prose, many languages)
        text = rng.choice(REVIEWS)
        if rng.random() < 0.3:
            text = text + " " + rng.choice(REVIEWS)
        doc = {"rating": rng.randint(1, 5), "title": text[:30], "body": text, "author": name(rng), "verified": True}
        if rng.random() < 0.8:
            b.json("xss", "POST", "/api/v1/products/%d/reviews" % rng.randint(1, 999), doc, "review")
        else:
            b.form("xss", "/reviews", {"body": text, "author": doc["author"]}, "review-form")

    for _ in range(300):  # search
        q = rng.choice(SEARCHES)
        params = {"q": q, "page": str(rng.randint(1, 20)), "sort": rng.choice(["price_asc", "-created_at", "relevance", "name"])}
        if rng.random() < 0.3:
            params["filter"] = rng.choice(["brand:acme", "price:10..50", "rating>=4", "color:red|blue", "in_stock:true"])
        cat = "sql_injection" if any(w in q for w in ("select", "union", "drop", "delete", "'", "\"", "<", "where", "from")) else "command_injection" if any(w in q for w in ("ping", "cat", "id", "echo", "exec", "shell", "bash", "python", "curl", "ls")) else "xss"
        if rng.random() < 0.75:
            b.query(cat, "/api/v1/search", params, "search")
        else:
            b.json(cat, "POST", "/api/v1/search", {"query": q, "filters": {"page": params["page"]}}, "search-json")

    for _ in range(260):  # markdown / code snippets in comments and tickets
        text = rng.choice(MARKDOWN)
        doc = {"ticket": rng.randint(1000, 9999), "comment": text, "author": {"name": name(rng), "email": rng.choice(EMAILS)},
               "created_at": "2024-%02d-%02dT%02d:%02d:00Z" % (rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59))}
        cat = "sql_injection" if "SELECT" in text or "DELETE" in text else "command_injection" if "`" in text or "curl" in text else "template_injection" if "{{" in text or "${" in text else "general"
        if rng.random() < 0.75:
            b.json(cat, "POST", "/api/v1/tickets/%d/comments" % doc["ticket"], doc, "markdown")
        else:
            b.form(cat, "/support/reply", {"message": text}, "markdown-form")

    for _ in range(200):  # rich text HTML
        html = rng.choice(HTML_RICH)
        if rng.random() < 0.4:
            html += rng.choice(HTML_RICH)
        b.json("xss", rng.choice(["POST", "PUT"]), "/api/v1/cms/pages/%d" % rng.randint(1, 300), {"title": "Page", "body_html": html, "published": True}, "richtext")

    for _ in range(200):  # URLs in fields (webhooks, avatars, links)
        u = rng.choice(URLS)
        r = rng.random()
        if r < 0.4:
            b.json("ssrf", "POST", "/api/v1/webhooks", {"url": u, "events": ["order.created"], "secret": "%032x" % rng.getrandbits(128)}, "url-json")
        elif r < 0.7:
            b.query("ssrf", "/api/v1/redirect", {"next": u, "src": rng.choice(["email", "app"])}, "url-query")
        else:
            b.form("remote_file_inclusion", "/profile", {"homepage": u, "avatar_url": rng.choice(URLS)}, "url-form")

    for _ in range(160):  # base64 images and documents, JWTs
        r = rng.random()
        if r < 0.35:
            b.json("general", "POST", "/api/v1/avatars", {"filename": "me.png", "content": png_b64(rng, rng.randint(200, 2000)), "encoding": "base64"}, "b64-image")
        elif r < 0.55:
            b.json("general", "POST", "/api/v1/avatars", {"image": "data:image/png;base64," + png_b64(rng, 400)}, "data-url")
        elif r < 0.75:
            b.json("general", "POST", "/api/v1/sessions/refresh", {"refresh_token": make_jwt(rng), "id_token": make_jwt(rng)}, "jwt")
        elif r < 0.9:
            b.query("general", "/api/v1/share", {"state": text_b64(rng), "t": make_jwt(rng)}, "b64-state")
        else:
            b.add("general", "POST", "/api/v1/blobs", [["content-type", "application/octet-stream"]], None, "binary")
            b.cases[-1]["body_base64"] = base64.b64encode(zlib.compress(bytes(rng.getrandbits(8) for _ in range(600)))).decode()

    for _ in range(120):  # templates in settings
        t = rng.choice(TEMPLATES)
        b.json("template_injection", "PUT", "/api/v1/settings/email-templates/%d" % rng.randint(1, 20), {"subject": "Your order", "body": t, "locale": rng.choice(["en", "de", "fr"])}, "template")

    for _ in range(140):  # uploads
        bnd = "----WebKitFormBoundary%016x" % rng.getrandbits(64)
        fname = rng.choice(FILENAMES)
        desc = rng.choice(REVIEWS + PRODUCTS)
        body = ("--%s\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n%s\r\n"
                "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n--%s--\r\n") % (
            bnd, desc, bnd, fname, "".join(rng.choice("abcdefghij0123456789 \n") for _ in range(200)), bnd)
        b.add("path_traversal", "POST", "/api/v1/upload", [["content-type", "multipart/form-data; boundary=%s" % bnd]], body, "multipart")
    for _ in range(40):  # svg uploads without DTD
        bnd = "----b%08x" % rng.getrandbits(32)
        svg = '<?xml version="1.0" encoding="UTF-8"?><svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24"><path d="M12 2L2 7l10 5 10-5-10-5z" fill="#%06x"/></svg>' % rng.getrandbits(24)
        body = "--%s\r\nContent-Disposition: form-data; name=\"icon\"; filename=\"icon.svg\"\r\nContent-Type: image/svg+xml\r\n\r\n%s\r\n--%s--\r\n" % (bnd, svg, bnd)
        b.add("xxe", "POST", "/api/v1/icons", [["content-type", "multipart/form-data; boundary=%s" % bnd]], body, "svg-upload")

    for _ in range(160):  # XML / SOAP
        n = name(rng)
        r = rng.random()
        if r < 0.5:
            body = '<?xml version="1.0" encoding="UTF-8"?><order id="%d"><customer name="%s">%s</customer><note>%s</note><total currency="EUR">%.2f</total></order>' % (
                rng.randint(1, 9999), n.replace("'", "&apos;"), rng.choice(EMAILS), rng.choice(PRODUCTS).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;"), rng.uniform(1, 900))
        elif r < 0.8:
            body = ('<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                    '<GetPrice xmlns="http://example.com/prices"><Item>%s</Item><Qty>%d</Qty></GetPrice></soap:Body></soap:Envelope>') % (rng.choice(PRODUCTS).split(";")[0].replace("&", "&amp;"), rng.randint(1, 9))
        else:
            body = '<?xml version="1.0"?><!DOCTYPE note><rss version="2.0"><channel><title>News</title><item><title>%s</title><link>%s</link></item></channel></rss>' % (rng.choice(REVIEWS).replace("&", "&amp;").replace("<", "&lt;"), rng.choice(URLS).replace("&", "&amp;"))
        b.add("xxe", "POST", "/api/v1/orders.xml", [["content-type", rng.choice(["application/xml", "text/xml", "application/soap+xml"])]], body, "xml")

    for _ in range(120):  # GraphQL
        q = rng.choice(["query GetUser($id: ID!) { user(id: $id) { id name email orders(first: 10) { edges { node { id total } } } } }",
                        "mutation AddReview($text: String!, $rating: Int!) { addReview(text: $text, rating: $rating) { id } }",
                        "{ products(filter: {name: \"women's jackets\", maxPrice: 50}) { id name price } }",
                        "query { search(term: \"o'reilly\") { ... on Book { title author } } }"])
        b.json("sql_injection", "POST", "/graphql", {"query": q, "variables": {"id": uuid(rng), "text": rng.choice(REVIEWS), "rating": rng.randint(1, 5)}, "operationName": None}, "graphql")

    for _ in range(200):  # plain API reads with ids, dates, paging, paths
        r = rng.random()
        if r < 0.3:
            b.add("general", "GET", "/api/v1/orders/%s/items/%d?expand=product,customer&fields=id,name,price" % (uuid(rng), rng.randint(1, 99)), note="ids")
        elif r < 0.5:
            b.query("general", "/api/v1/reports", {"from": "2024-01-01T00:00:00Z", "to": "2024-03-31T23:59:59+02:00", "tz": "Europe/Berlin", "group_by": "week"}, "dates")
        elif r < 0.7:
            b.query("path_traversal", "/api/v1/files", {"path": rng.choice(PATHS_BENIGN), "version": "v%d" % rng.randint(1, 9)}, "paths")
        elif r < 0.85:
            b.add("general", "GET", "/api/v2/users/me/preferences?locale=%s&currency=EUR&callback=handleData" % rng.choice(["de-DE", "fr-CA", "pt-BR", "zh-Hans"]), note="prefs")
        else:
            b.query("general", "/api/v1/geo", {"lat": "%.5f" % rng.uniform(-90, 90), "lng": "%.5f" % rng.uniform(-180, 180), "radius": "5km", "q": rng.choice(CITIES)}, "geo")

    for _ in range(120):  # shell-ish but benign field values
        v = rng.choice(["Tom & Jerry", "R&D; id card renewal", "Q&A session | 3pm", "salt & pepper; more please", "fish & chips; cat lovers welcome",
                        "AT&T | Verizon | T-Mobile", "Terms & Conditions; Privacy", "50% off; today only!", "Mon-Fri 9am-5pm; Sat 10am-2pm",
                        "Me & you; forever", "Drinks & snacks | 18+ only", "price: $5; qty: 2", "A/B testing; type: split", "sleep well; see you tomorrow"])
        b.json("command_injection", "POST", "/api/v1/events", {"title": v, "location": rng.choice(CITIES), "capacity": rng.randint(5, 500)}, "shellish")

    for _ in range(80):  # multi-line text with header-like lines
        v = rng.choice(["Hi team,\nLocation: Berlin office\nDate: next Tuesday\nThanks!", "Order notes:\nContent: 2 boxes\nHost: Mary\n",
                        "Line one\r\nLine two\r\nRegards, Jane", "Agenda:\n- intro\n- budget\nLink: https://example.com/agenda"])
        b.json("crlf_injection", "POST", "/api/v1/messages", {"to": rng.choice(EMAILS), "body": v}, "multiline")

    for _ in range(80):  # ldap/xpath-looking benign
        v = rng.choice(["(see above)", "Smith (John)", "size (M) (L)", "ratio 1:2 (approx)", "a(b)c", "list: (a)(b)(c)", "email me (urgent)!",
                        "count(items) is 5", "name() function docs", "price > 5 and < 10", "x/y/z", "//comments are fine//"])
        b.query("ldap_injection", "/api/v1/directory", {"q": v}, "parens")

    for _ in range(60):  # JSON with $ keys and dollar signs used legitimately
        v = rng.choice([{"price": "$19.99", "note": "$5 off"}, {"currency": "USD", "amount": "$1,000"}, {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"},
                        {"$id": "https://example.com/product.schema.json", "title": "Product"}, {"budget": "$$$", "tip": "${amount} left"}])
        b.json("nosql_injection", "POST", "/api/v1/documents", v, "dollar")

    for _ in range(60):  # JS-ish prose and prototype/constructor words
        v = rng.choice(["The constructor of this class takes 2 args", "Object prototype docs", "See MDN: Object.prototype.toString()",
                        "proto_version: 3", "constructor: Jane O'Brien (builder)", "prototype v2 ready for review"])
        b.json("prototype_pollution", "POST", "/api/v1/notes", {"text": v, "tags": ["js", "docs"]}, "proto-words")
    return b.cases
