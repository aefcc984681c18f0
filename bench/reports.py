"""Receivers' reports for bench/compare.sh: the aggregate-report corpus both parsers accept,
parsedmarc's parse rate over it, and a generated 40 MB report message.

    python3 bench/reports.py corpus VECTORS OUT_DIR COPIES   # writes OUT_DIR/*.xml, prints "accepted total"
    python3 bench/reports.py parsedmarc OUT_DIR              # prints reports/s (best of 3)
    python3 bench/reports.py big FILE                        # writes a ~40 MB e-mail with one report
"""
import base64, gzip, io, os, random, sys, time, zipfile

def documents(vectors):
    """Every aggregate report XML under the vectors, decompressed: (name, bytes)."""
    roots = [os.path.join(vectors, "dmarc-reports"),
             os.path.join(vectors, "dkim-spf-dmarc/mail-auth/resources/dmarc-feedback")]
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                data = open(path, "rb").read()
                if data[:2] == b"\x1f\x8b":
                    data = gzip.decompress(data)
                elif data[:4] == b"PK\x03\x04":
                    with zipfile.ZipFile(io.BytesIO(data)) as z:
                        data = z.read(z.namelist()[0])
                if b"<feedback" in data[:65536]:
                    yield name, data

def parsedmarc_accepts(data):
    import parsedmarc
    try:
        parsedmarc.parse_aggregate_report_xml(data.decode("utf-8", "replace"), offline=True)
        return True
    except Exception:
        return False

def corpus(vectors, out, copies):
    os.makedirs(out, exist_ok=True)
    docs = list(documents(vectors))
    accepted = [(n, d) for n, d in docs if parsedmarc_accepts(d)]
    for i in range(copies):
        for j, (_, data) in enumerate(accepted):
            open(os.path.join(out, f"{i:05d}-{j:03d}.xml"), "wb").write(data)
    print(len(accepted), len(docs))

def parsedmarc_rate(out):
    import parsedmarc
    # Each file listed, read and parsed inside the timing, as the bare read and ours do.
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        names = sorted(os.listdir(out))
        for name in names:
            with open(os.path.join(out, name), "rb") as f:
                text = f.read().decode("utf-8", "replace")
            parsedmarc.parse_aggregate_report_xml(text, offline=True)
        best = max(best, len(names) / (time.perf_counter() - start))
    # A tenth kept for slow rates (the large report runs at a few a second).
    print(f"{best:.1f}" if best < 100 else f"{best:.0f}")

def big(path):
    """A report e-mail of about 40 MB (SES's S3 action stores up to 40 MB): the XML attached
    uncompressed, base64, so the message is as large as it can be."""
    rnd = random.Random(7)
    rows = []
    size = 0
    while size < 29_000_000:
        ip = f"{rnd.randrange(1, 224)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}"
        ses = rnd.random() < 0.5
        env = "us-east-1.amazonses.com" if ses else "mail.example.com"
        row = (f"<record><row><source_ip>{ip}</source_ip><count>{rnd.randrange(1, 500)}</count>"
               f"<policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>{'fail' if ses else 'pass'}</spf>"
               f"</policy_evaluated></row><identifiers><header_from>example.com</header_from>"
               f"<envelope_from>{env}</envelope_from></identifiers><auth_results><dkim><domain>example.com</domain>"
               f"<result>pass</result><selector>s{rnd.randrange(100)}</selector></dkim><spf><domain>{env}</domain>"
               f"<result>pass</result></spf></auth_results></record>\n")
        rows.append(row)
        size += len(row)
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<feedback><report_metadata><org_name>big.example</org_name>'
           '<report_id>big-1</report_id><date_range><begin>1793491200</begin><end>1793577599</end></date_range>'
           '</report_metadata><policy_published><domain>example.com</domain><p>reject</p></policy_published>\n'
           + "".join(rows) + "</feedback>\n").encode()
    body = base64.encodebytes(xml)
    mail = (b"From: noreply-dmarc@big.example\r\nTo: dmarc@inbound.example.com\r\n"
            b"Subject: Report domain: example.com Submitter: big.example\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nA big report.\r\n"
            b"--b\r\nContent-Type: text/xml\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n--b--\r\n")
    open(path, "wb").write(mail)
    print(len(mail), len(rows))

if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "corpus":
        corpus(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif mode == "parsedmarc":
        parsedmarc_rate(sys.argv[2])
    elif mode == "big":
        big(sys.argv[2])
