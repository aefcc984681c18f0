"""The reports side of the end-to-end check, against moto_server on loopback (S3, DynamoDB).

  setup   ENDPOINT                 create the message bucket and the state table
  message XML OUT [DMARC [ID [FROM]]]
                                   write a report message as SES's S3 action stores it: SES's
                                   Authentication-Results (dmarc=DMARC, default pass, for the
                                   From domain FROM, default receiver.example), the report (its
                                   id replaced by ID) gzipped and attached
  spam    OUT                      write mail to the report address with no report in it
  put     ENDPOINT KEY FILE        store FILE under KEY in the bucket
  event   KEY OUT                  write the EventBridge "Object Created" event for KEY
  exists  ENDPOINT KEY             exit 0 when the object is still there
  claims  ENDPOINT                 print how many reports the state table counted (done)
  claim   ENDPOINT ID AGE [HOLDS]  write an unfinished claim on receiver.example's report ID
                                   about example.com, made AGE seconds ago by an invocation
                                   whose deadline is HOLDS seconds from now (without HOLDS: a
                                   claim as the version before wrote it, with no deadline)
  expire  ENDPOINT ID              move that claim's deadline into the past (its holder died)
  has     ENDPOINT ID              exit 0 when the table holds a claim on report ID
  forget  ENDPOINT ID              delete the claim on report ID (as a failed delivery gives it back)
  rows    ENDPOINT                 print the report rows under rows/: {key: [row, ...]}
"""
import base64
import gzip
import json
import sys
import urllib.request
import time

import boto3

REGION = "us-east-1"
BUCKET = "ses-dmarc-monitor-mail"
TABLE = "ses-dmarc-monitor-state"


def client(endpoint, service):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


def setup(endpoint):
    client(endpoint, "s3").create_bucket(Bucket=BUCKET)
    # As template.yaml's StateTable (scripts/check_template.py holds them to the same shape).
    client(endpoint, "dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"},
                              {"AttributeName": "attention", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "attention",
            "KeySchema": [{"AttributeName": "attention", "KeyType": "HASH"},
                          {"AttributeName": "pk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}])


def message(xml_path, out, dmarc="pass", report_id=None, sender="receiver.example"):
    xml = open(xml_path, "rb").read()
    if report_id:
        xml = xml.replace(b"<report_id>r-1</report_id>", f"<report_id>{report_id}</report_id>".encode())
    report = base64.encodebytes(gzip.compress(xml)).decode()
    text = (
        "Return-Path: <bounces@reports.receiver.example>\r\n"
        "Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=reports.receiver.example;\r\n"
        f" dkim=pass header.i=@{sender};\r\n dmarc={dmarc} header.from={sender};\r\n"
        f"From: DMARC reports <dmarc@{sender}>\r\nTo: dmarc-reports@inbound.example.com\r\n"
        "Subject: Report domain: example.com Submitter: receiver.example Report-ID: r-1\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"part\"\r\n\r\n"
        "--part\r\nContent-Type: text/plain\r\n\r\nA DMARC aggregate report.\r\n"
        "--part\r\nContent-Type: application/gzip; name=\"report.xml.gz\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + report.replace("\n", "\r\n") + "--part--\r\n")
    open(out, "w").write(text)


def spam(out):
    open(out, "w").write(
        "Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=shop.example;\r\n"
        " dmarc=pass header.from=shop.example\r\nFrom: Deals <deals@shop.example>\r\n"
        "To: dmarc-reports@inbound.example.com\r\nSubject: 50% off this week only\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n<p>Buy now.</p>\r\n")


def put(endpoint, key, path):
    client(endpoint, "s3").put_object(Bucket=BUCKET, Key=key, Body=open(path, "rb").read())


def event(key, out):
    json.dump({
        "version": "0", "id": "e2e-" + key, "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-11-30T10:00:00Z", "region": REGION,
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {"version": "0", "bucket": {"name": BUCKET},
                   "object": {"key": key, "size": 1}, "reason": "PutObject"},
    }, open(out, "w"))


def exists(endpoint, key):
    try:
        client(endpoint, "s3").head_object(Bucket=BUCKET, Key=key)
    except Exception as error:  # noqa: BLE001 - any failure means it is not there
        sys.exit(f"s3://{BUCKET}/{key}: {error}")


def claims(endpoint):
    items = client(endpoint, "dynamodb").scan(TableName=TABLE)["Items"]
    print(sum(1 for item in items if item["pk"]["S"].startswith("report#") and item["done"]["BOOL"]))


def claim(endpoint, report_id, age, holds=None):
    now = int(time.time())
    item = {
        "pk": {"S": "report#example.com"}, "sk": {"S": f"receiver.example#{report_id}"},
        "claimed": {"N": str(now - int(age))}, "done": {"BOOL": False},
        "expires": {"N": str(now + 86400)}}
    if holds is not None:
        item["holds_until"] = {"N": str(now + int(holds))}
    client(endpoint, "dynamodb").put_item(TableName=TABLE, Item=item)


def expire(endpoint, report_id):
    client(endpoint, "dynamodb").update_item(
        TableName=TABLE,
        Key={"pk": {"S": "report#example.com"}, "sk": {"S": f"receiver.example#{report_id}"}},
        UpdateExpression="SET holds_until = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}})


def has(endpoint, report_id):
    item = client(endpoint, "dynamodb").get_item(
        TableName=TABLE,
        Key={"pk": {"S": "report#example.com"}, "sk": {"S": f"receiver.example#{report_id}"}})
    if "Item" not in item:
        sys.exit(f"no claim on {report_id}")


def forget(endpoint, report_id):
    client(endpoint, "dynamodb").delete_item(
        TableName=TABLE,
        Key={"pk": {"S": "report#example.com"}, "sk": {"S": f"receiver.example#{report_id}"}})


def rows(endpoint):
    s3 = client(endpoint, "s3")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="rows/").get("Contents", [])
    out = {}
    for item in listed:
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        out[item["Key"]] = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    print(json.dumps(out))


def mail(endpoint, sender):
    """The messages SES (moto) accepted from SENDER, one JSON object a line: moto keeps a
    simple message's HTML part as its body."""
    data = json.load(urllib.request.urlopen(f"{endpoint}/moto-api/data.json"))
    for message in data["ses"]["Message"]:
        if message["source"] == sender:
            print(json.dumps({"subject": message["subject"], "body": message["body"],
                              "to": message["destinations"].get("ToAddresses", [])}))


if __name__ == "__main__":
    {"setup": setup, "message": message, "spam": spam, "put": put, "event": event,
     "exists": exists, "claims": claims, "claim": claim, "expire": expire,
     "has": has, "mail": mail, "forget": forget, "rows": rows}[sys.argv[1]](*sys.argv[2:])
