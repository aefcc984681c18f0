"""The reports side of the end-to-end check, against moto_server on loopback (S3, DynamoDB).

  setup   ENDPOINT                 create the message bucket and the state table
  message XML OUT [DMARC [ID]]     write a report message as SES's S3 action stores it: SES's
                                   Authentication-Results (dmarc=DMARC, default pass), the
                                   report (its id replaced by ID) gzipped and attached
  put     ENDPOINT KEY FILE        store FILE under KEY in the bucket
  event   KEY OUT                  write the EventBridge "Object Created" event for KEY
  exists  ENDPOINT KEY             exit 0 when the object is still there
  claims  ENDPOINT                 print how many reports the state table counted (done)
  claim   ENDPOINT ID AGE          write an unfinished claim on receiver.example's report ID
                                   about example.com, made AGE seconds ago
"""
import base64
import gzip
import json
import sys
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
    client(endpoint, "dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}])


def message(xml_path, out, dmarc="pass", report_id=None):
    xml = open(xml_path, "rb").read()
    if report_id:
        xml = xml.replace(b"<report_id>r-1</report_id>", f"<report_id>{report_id}</report_id>".encode())
    report = base64.encodebytes(gzip.compress(xml)).decode()
    text = (
        "Return-Path: <bounces@reports.receiver.example>\r\n"
        "Authentication-Results: amazonses.com;\r\n spf=pass smtp.mailfrom=reports.receiver.example;\r\n"
        f" dkim=pass header.i=@receiver.example;\r\n dmarc={dmarc} header.from=receiver.example;\r\n"
        "From: DMARC reports <dmarc@receiver.example>\r\nTo: dmarc-reports@inbound.example.com\r\n"
        "Subject: Report domain: example.com Submitter: receiver.example Report-ID: r-1\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"part\"\r\n\r\n"
        "--part\r\nContent-Type: text/plain\r\n\r\nA DMARC aggregate report.\r\n"
        "--part\r\nContent-Type: application/gzip; name=\"report.xml.gz\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + report.replace("\n", "\r\n") + "--part--\r\n")
    open(out, "w").write(text)


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


def claim(endpoint, report_id, age):
    now = int(time.time())
    client(endpoint, "dynamodb").put_item(TableName=TABLE, Item={
        "pk": {"S": "report#example.com"}, "sk": {"S": f"receiver.example#{report_id}"},
        "claimed": {"N": str(now - int(age))}, "done": {"BOOL": False},
        "expires": {"N": str(now + 86400)}})


if __name__ == "__main__":
    {"setup": setup, "message": message, "put": put, "event": event,
     "exists": exists, "claims": claims, "claim": claim}[sys.argv[1]](*sys.argv[2:])
