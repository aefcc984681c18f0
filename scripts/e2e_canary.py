"""The canary side of the end-to-end check, against moto_server on loopback (SESv2 SendEmail,
DynamoDB).

  setup   ENDPOINT DOMAIN...          verify the domains in moto's SES, so that it sends for them
  sent    ENDPOINT                    print what SES sent, one JSON object per line
                                      ({"id", "source", "to", "subject"})
  probes  ENDPOINT                    print the probes the state table holds, one JSON object per
                                      line ({"identity", "id", "sent", "received", "findings",
                                      "reported_missing"})
  receipt ID FROM ENVELOPE OUT        write the receipt-rule Lambda event SES inbound gives for
                                      the probe ID sent from FROM, arriving with the envelope
                                      sender <ID>@ENVELOPE (its headers as SES adds them)
  old     ENDPOINT IDENTITY ID AGE    record a probe sent AGE seconds ago, never received
  incident ENDPOINT KIND DOMAIN       print the incident the state table holds, as JSON
  legacy ENDPOINT KIND DOMAIN AGE     write an open incident as the previous layout kept it
  legacy-left ENDPOINT                how many items of the previous layout are left
"""
import json
import sys
import time
import urllib.request

from e2e_reports import TABLE, client

CANARY = "canary@inbound.example.com"


def setup(endpoint, *domains):
    ses = client(endpoint, "ses")
    for domain in domains:
        ses.verify_domain_identity(Domain=domain)


def sent(endpoint):
    data = json.load(urllib.request.urlopen(f"{endpoint}/moto-api/data.json"))
    for message in data["ses"]["Message"]:
        # The probes only: the digest is sent through the same emulator.
        if CANARY not in message["destinations"].get("ToAddresses", []):
            continue
        print(json.dumps({"id": message["id"], "source": message["source"],
                          "to": message["destinations"].get("ToAddresses", []),
                          "subject": message["subject"]}))


def probes(endpoint):
    items = client(endpoint, "dynamodb").scan(TableName=TABLE)["Items"]
    for item in items:
        if not item["pk"]["S"].startswith("probe#"):
            continue
        print(json.dumps({
            "identity": item["pk"]["S"].removeprefix("probe#"),
            "id": item["sk"]["S"],
            "sent": int(item["sent"]["N"]),
            "received": int(item["received"]["N"]) if "received" in item else None,
            "findings": [k["S"] for k in item.get("findings", {}).get("L", [])],
            "reported_missing": item.get("reported_missing", {}).get("BOOL", False),
        }))


def receipt(message_id, sender, envelope, out):
    """What SES inbound hands a receipt rule's Lambda action for a probe: SES's own
    Authentication-Results (SPF for the envelope domain, DKIM for the From domain and
    amazonses.com), the Message-ID SES wrote when sending, the canary address as recipient."""
    domain = sender.split("@")[1]
    return_path = f"{message_id}@{envelope}"
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    headers = [
        ("Return-Path", f"<{return_path}>"),
        ("Received", "from a8-21.smtp-out.amazonses.com (a8-21.smtp-out.amazonses.com [198.51.100.21]) "
                     f"by inbound-smtp.us-east-1.amazonaws.com with SMTP id e2e for {CANARY}"),
        ("Authentication-Results",
         f"amazonses.com; spf=pass (spfCheck: domain of {envelope} designates 198.51.100.21 as permitted sender) "
         f"client-ip=198.51.100.21; envelope-from={return_path}; helo=a8-21.smtp-out.amazonses.com; "
         f"dkim=pass header.i=@{domain}; dkim=pass header.i=@amazonses.com; dmarc=pass header.from={domain};"),
        ("From", sender),
        ("To", CANARY),
        ("Subject", f"ses-dmarc-monitor canary for {domain}"),
        ("Message-ID", f"<{message_id}@email.amazonses.com>"),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=UTF-8"),
    ]
    event = {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {
        "mail": {
            "timestamp": now, "source": return_path, "messageId": f"inbound-{message_id[:12]}",
            "destination": [CANARY], "headersTruncated": False,
            "headers": [{"name": n, "value": v} for n, v in headers],
            "commonHeaders": {"returnPath": return_path, "from": [sender],
                              "messageId": f"<{message_id}@email.amazonses.com>"},
        },
        "receipt": {
            "timestamp": now, "recipients": [CANARY],
            "spfVerdict": {"status": "PASS"}, "dkimVerdict": {"status": "PASS"},
            "dmarcVerdict": {"status": "PASS"},
            "action": {"type": "Lambda", "invocationType": "Event",
                       "functionArn": "arn:aws:lambda:us-east-1:111122223333:function:receipt"},
        },
    }}]}
    with open(out, "w") as f:
        json.dump(event, f)


def old(endpoint, identity, message_id, age):
    sent_at = int(time.time()) - int(age)
    client(endpoint, "dynamodb").put_item(TableName=TABLE, Item={
        "pk": {"S": f"probe#{identity}"}, "sk": {"S": message_id},
        "sent": {"N": str(sent_at)}, "expires": {"N": str(sent_at + 2 * 86400)},
    })


def legacy(endpoint, kind, domain, age):
    """An open incident as the version before one item per incident wrote it, `age` s old."""
    at = int(time.time()) - int(age)
    client(endpoint, "dynamodb").put_item(TableName=TABLE, Item={
        "pk": {"S": "incident"}, "sk": {"S": f"{kind}#{domain}#"},
        "kind": {"S": kind}, "domain": {"S": domain}, "subject": {"S": ""},
        "opened": {"N": str(at)}, "last_seen": {"N": str(at)}, "last_sent": {"N": str(at)},
        "occurrences": {"N": "5"}, "unsent": {"N": "2"}, "detail": {"S": "carried over"},
        "severity": {"S": "critical"}, "version": {"N": "3"},
    })


def legacy_left(endpoint):
    """How many items of the previous layout are left."""
    items = client(endpoint, "dynamodb").query(
        TableName=TABLE, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "incident"}}, ConsistentRead=True)["Items"]
    print(len(items))


def rollup(endpoint, identity):
    """The canary's daily rollups of IDENTITY, summed over the days: {"sent", "received",
    "healthy"}."""
    items = client(endpoint, "dynamodb").scan(TableName=TABLE)["Items"]
    total = {"sent": 0, "received": 0, "healthy": 0}
    for item in items:
        if item["pk"]["S"].startswith("rollup#") and item["sk"]["S"] == f"canary#{identity}":
            for name in total:
                total[name] += int(item.get(name, {}).get("N", "0"))
    print(json.dumps(total))


def incident(endpoint, kind, domain):
    item = client(endpoint, "dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": f"incident#{kind}#{domain}#"}, "sk": {"S": "incident"}},
        ConsistentRead=True)["Item"]
    plain = lambda v: int(v["N"]) if "N" in v else v.get("S", v.get("SS"))
    print(json.dumps({k: ({n: plain(m) for n, m in v["M"].items()} if "M" in v else plain(v))
                      for k, v in item.items()}))


if __name__ == "__main__":
    {"setup": setup, "sent": sent, "probes": probes, "receipt": receipt, "old": old, "rollup": rollup,
     "incident": incident, "legacy": legacy, "legacy-left": legacy_left}[sys.argv[1]](*sys.argv[2:])
