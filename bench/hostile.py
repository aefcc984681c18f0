"""Hostile and huge report inputs for bench/compare.sh's peak-memory table, generated here.

    python3 bench/hostile.py OUT_DIR     # writes the files below, prints "name bytes" for each

  gzip-bomb.gz         1 MB of gzip that expands to about 1 GB of zeros (not a report)
  xml-bomb.xml.gz      gzip of a report whose <feedback> holds about 1 GB of empty elements
  800k-rows.xml.gz     one report of 800,000 records over 50,000 addresses (about 250 MiB of XML)
  many-reports.zip     a 40 MB zip of small reports (thousands of entries)
  truncated.xml        a report cut inside its records
  huge-counts.xml      two rows whose counts add up past 2^64
  40mb-mail.eml        a 40 MB e-mail with the XML attached uncompressed (base64)
"""
import base64, gzip, io, os, random, sys, zipfile, zlib

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<feedback><report_metadata><org_name>big.example</org_name>'
        '<email>dmarc@big.example</email><report_id>{id}</report_id><date_range><begin>1793491200</begin>'
        '<end>1793577599</end></date_range></report_metadata><policy_published><domain>example.com</domain>'
        '<adkim>r</adkim><aspf>r</aspf><p>reject</p></policy_published>\n')

def record(ip, count, ses):
    env = "us-east-1.amazonses.com" if ses else "mail.example.com"
    return (f"<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>"
            f"<disposition>none</disposition><dkim>pass</dkim><spf>{'fail' if ses else 'pass'}</spf>"
            f"</policy_evaluated></row><identifiers><header_from>example.com</header_from>"
            f"<envelope_from>{env}</envelope_from></identifiers><auth_results><dkim><domain>example.com"
            f"</domain><result>pass</result></dkim><spf><domain>{env}</domain><result>pass</result></spf>"
            f"</auth_results></record>\n")

def stream_gzip(path, chunks):
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as out:
        for chunk in chunks:
            out.write(chunk)

def main(out):
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(7)
    zeros = b"\0" * (1 << 20)
    stream_gzip(f"{out}/gzip-bomb.gz", (zeros for _ in range(1024)))
    elements = b"<x/>" * (1 << 18)
    stream_gzip(f"{out}/xml-bomb.xml.gz",
                [HEAD.format(id="bomb").encode()] + [elements for _ in range(1024)] + [b"</feedback>\n"])
    ips = [f"{rnd.randrange(1, 224)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}"
           for _ in range(50_000)]
    def rows():
        yield HEAD.format(id="800k").encode()
        batch = []
        for n in range(800_000):
            batch.append(record(ips[n % len(ips)], rnd.randrange(1, 50), n % 3 == 0))
            if len(batch) == 10_000:
                yield "".join(batch).encode()
                batch = []
        yield ("".join(batch) + "</feedback>\n").encode()
    stream_gzip(f"{out}/800k-rows.xml.gz", rows())
    with zipfile.ZipFile(f"{out}/many-reports.zip", "w", zipfile.ZIP_DEFLATED) as z:
        n = 0
        while os.path.getsize(f"{out}/many-reports.zip") < 40_000_000 if n % 500 == 0 and n else True:
            body = HEAD.format(id=f"r-{n}") + "".join(
                record(rnd.choice(ips), rnd.randrange(1, 9), rnd.random() < 0.5) for _ in range(40)) + "</feedback>\n"
            # Random comments keep deflate from shrinking the entries to nothing.
            body += f"<!-- {os.urandom(6000).hex()} -->\n"
            z.writestr(f"report-{n}.xml", body)
            n += 1
            if n % 500 == 0:
                z.fp.flush()
    full = HEAD.format(id="cut") + "".join(record(ips[i], 3, False) for i in range(50)) + "</feedback>\n"
    open(f"{out}/truncated.xml", "w").write(full[: len(full) // 2])
    huge = (HEAD.format(id="huge") + record(ips[0], 18446744073709551615, False)
            + record(ips[1], 40, False) + "</feedback>\n")
    open(f"{out}/huge-counts.xml", "w").write(huge)
    xml = [HEAD.format(id="40mb")]
    size = 0
    while size < 29_000_000:
        r = record(rnd.choice(ips), rnd.randrange(1, 500), rnd.random() < 0.5)
        xml.append(r)
        size += len(r)
    xml.append("</feedback>\n")
    body = base64.encodebytes("".join(xml).encode())
    open(f"{out}/40mb-mail.eml", "wb").write(
        b"From: noreply-dmarc@big.example\r\nTo: dmarc@inbound.example.com\r\n"
        b"Subject: Report domain: example.com Submitter: big.example\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nA big report.\r\n"
        b"--b\r\nContent-Type: text/xml\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n--b--\r\n")
    for name in sorted(os.listdir(out)):
        print(name, os.path.getsize(f"{out}/{name}"))

if __name__ == "__main__":
    main(sys.argv[1])
