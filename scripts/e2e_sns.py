"""SNS side of the end-to-end check, against moto_server on loopback.

  setup  ENDPOINT          create the alert topic and an SQS queue subscribed to it; print the topic ARN
  alerts ENDPOINT          print every alert delivered so far, one JSON object per line
                           ({"subject", "kind", "severity", "domain", "state", "incident",
                           "version", "body"})
"""
import json
import sys

import boto3

REGION = "us-east-1"


def clients(endpoint):
    args = dict(endpoint_url=endpoint, region_name=REGION,
                aws_access_key_id="test", aws_secret_access_key="test")
    return boto3.client("sns", **args), boto3.client("sqs", **args)


def setup(endpoint):
    sns, sqs = clients(endpoint)
    topic = sns.create_topic(Name="ses-dmarc-monitor-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    print(topic)


def alerts(endpoint):
    _, sqs = clients(endpoint)
    queue_url = sqs.get_queue_url(QueueName="alerts-tap")["QueueUrl"]
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                    WaitTimeSeconds=1, MessageAttributeNames=["All"])
        messages = batch.get("Messages", [])
        if not messages:
            return
        for message in messages:
            envelope = json.loads(message["Body"])
            attributes = {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()}
            print(json.dumps({
                "subject": envelope.get("Subject"),
                "kind": attributes.get("kind"),
                "severity": attributes.get("severity"),
                "domain": attributes.get("domain"),
                "state": attributes.get("state"),
                "incident": attributes.get("incident"),
                "version": attributes.get("version"),
                "body": envelope.get("Message"),
            }))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


if __name__ == "__main__":
    {"setup": setup, "alerts": alerts}[sys.argv[1]](*sys.argv[2:])
