"""Asserts the properties of template.yaml that a safe production deploy depends on (issue 14),
on the template as CloudFormation reads it (cfn-lint's decoder keeps !Ref, !If, … as
Ref/Fn::If). Run by .ci/run beside cfn-lint; exits non-zero naming each property that fails.

usage: python3 scripts/check_template.py [template.yaml]
"""
import sys

from cfnlint.decode import decode

path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
template, matches = decode(path)
if matches:
    sys.exit(f"{path}: {matches}")
resources = template["Resources"]
parameters = template["Parameters"]
conditions = template.get("Conditions", {})
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def expanded(resources):
    """The resources, each Fn::ForEach loop's template among them under its own name."""
    for name, resource in resources.items():
        if name.startswith("Fn::ForEach::"):
            for template_name, loop_resource in resource[2].items():
                yield template_name, loop_resource
        else:
            yield name, resource


def of_type(kind):
    return {name: r for name, r in expanded(resources) if r["Type"] == kind}


functions = of_type("AWS::Serverless::Function")
check(len(functions) == 6, f"six functions, found {sorted(functions)}")
# Built from the Lambda package, whose .cargo/config.toml holds its release settings.
check(template["Globals"]["Function"].get("CodeUri") == "lambda", "Globals: CodeUri lambda (the Lambda package)")

# 1. No receipt rule without recipients: the rule names them unconditionally, and a template
# rule refuses an empty list whenever a rule set is given.
rules = of_type("AWS::SES::ReceiptRule")
check(sorted(rules) == ["CanaryStopRule", "ReceiptRule", "ReportRule"],
      f"the monitor rule, the canary's stop and the report rule, found {sorted(rules)}")
for name, parameter in (("ReceiptRule", "ReceiptRecipients"), ("ReportRule", "ReportRecipients")):
    rule = rules.get(name, {"Properties": {"Rule": {"Actions": [{}]}}})
    recipients = rule["Properties"]["Rule"].get("Recipients")
    check(recipients == {"Ref": parameter}, f"{name}: Recipients must be {parameter}, never omitted")
    for action in rule["Properties"]["Rule"]["Actions"]:
        check("SNSAction" not in action, f"{name}: no SNS action (SES bounces mail over 150 KB on one)")
actions = rules.get("ReceiptRule", {}).get("Properties", {}).get("Rule", {}).get("Actions", [{}])
check("S3Action" in actions[0] and "LambdaAction" in actions[-1], "ReceiptRule: the message stored in S3, then the Lambda action")
report_actions = rules.get("ReportRule", {}).get("Properties", {}).get("Rule", {}).get("Actions", [])
check([list(a) for a in report_actions] == [["S3Action"], ["StopAction"]]
      and report_actions[0]["S3Action"].get("ObjectKeyPrefix") == "reports/"
      and report_actions[1]["StopAction"].get("Scope") == "RuleSet",
      "ReportRule: only stored, under reports/ (the Object Created event invokes the function), then the set stops")
# Issue 26: the rules placed explicitly, one after the other; the set stops for the canary's
# probes and for report mail, and goes on for the other ReceiptRecipients.
monitor_rule = rules.get("ReceiptRule", {}).get("Properties", {})
check(monitor_rule.get("After") == {"Fn::If": ["HasRuleAfter", {"Ref": "ReceiptRuleAfter"}, {"Ref": "AWS::NoValue"}]},
      "ReceiptRule: placed after ReceiptRuleAfter, or first")
check(not any("StopAction" in a for a in monitor_rule.get("Rule", {}).get("Actions", [])),
      "ReceiptRule: no stop (ReceiptRecipients' other mail goes on to the later rules)")
canary_stop = rules.get("CanaryStopRule", {})
check(canary_stop.get("Condition") == "HasCanary" and canary_stop.get("Properties", {}).get("After") == {"Ref": "ReceiptRule"},
      "CanaryStopRule: with the canary, right after the monitor rule")
check(canary_stop.get("Properties", {}).get("Rule", {}).get("Recipients") == [{"Ref": "CanaryAddress"}]
      and canary_stop.get("Properties", {}).get("Rule", {}).get("Actions") == [{"StopAction": {"Scope": "RuleSet"}}],
      "CanaryStopRule: the canary address only, and only a stop")
check(rules.get("ReportRule", {}).get("Properties", {}).get("After")
      == {"Fn::If": ["HasCanary", {"Ref": "CanaryStopRule"}, {"Ref": "ReceiptRule"}]},
      "ReportRule: after the monitor rule and the canary's stop")
check(resources.get("ReportRule", {}).get("Condition") == "HasReportRule", "ReportRule only with report recipients")
bucket = resources["RawMessageBucket"]["Properties"]
check("BucketEncryption" in bucket, "the raw message bucket is encrypted")
check(all(bucket["PublicAccessBlockConfiguration"].values()), "the raw message bucket blocks public access")
expiring = {r.get("Prefix"): r.get("ExpirationInDays") for r in bucket["LifecycleConfiguration"]["Rules"]}
check(expiring.get("raw/") == {"Ref": "RawMessageRetentionDays"}, "raw messages expire")
check(expiring.get("reports/") == {"Ref": "ReportRetentionDays"}, "report messages expire after ReportRetentionDays")
check(bucket.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {}).get("EventBridgeEnabled") is True,
      "the bucket's Object Created events reach EventBridge")
bucket_policy = str(resources["RawMessageBucketPolicy"]["Properties"]["PolicyDocument"])
check("ses.amazonaws.com" in bucket_policy and "AWS:SourceAccount" in bucket_policy, "only SES of this account writes")
receipt_s3 = [a for a in str(functions["ReceiptFunction"]["Properties"]["Policies"]).split("'Action': ") if a.startswith("'s3:")]
check(receipt_s3 and all(a.startswith("'s3:GetObject'") for a in receipt_s3), "the receipt function may only read objects")
reports_policies = str(functions.get("ReportsFunction", {}).get("Properties", {}).get("Policies"))
reports_s3 = [a for a in reports_policies.split("'Action': ") if a.startswith("'s3:")]
check(reports_s3 and all(a.startswith(("'s3:GetObject'", "'s3:PutObject'")) for a in reports_s3),
      "the reports function may only read objects, and write report rows (checked below)")
check("reports/*" in reports_policies and "raw/*" not in reports_policies, "the reports function reads reports/ only")
check("'Fn::GetAtt': ['StateTable', 'Arn']" in reports_policies, "the reports function's table actions on the state table only")
reports_events = functions.get("ReportsFunction", {}).get("Properties", {}).get("Events", {})
pattern = str(reports_events.get("ReportStored", {}).get("Properties", {}).get("Pattern"))
check("Object Created" in pattern and "'prefix': 'reports/'" in pattern, "the reports function is invoked for objects under reports/")
reports_destination = str(functions.get("ReportsFunction", {}).get("Properties", {}).get("EventInvokeConfig"))
check("ReportsFailureQueue" in reports_destination, "failed report events go to the reports failure queue")
state_table = resources.get("StateTable", {})
check(state_table.get("DeletionPolicy") == "Retain" and state_table.get("UpdateReplacePolicy") == "Retain",
      "the state table is kept when the stack is deleted or replaces it")
table = state_table.get("Properties", {})
check(table.get("DeletionProtectionEnabled") is True, "the state table has deletion protection")
indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
attention = indexes.get("attention", {})
check([k["AttributeName"] for k in attention.get("KeySchema", [])] == ["attention", "pk"]
      and attention.get("Projection") == {"ProjectionType": "KEYS_ONLY"},
      "the sparse keys-only index of incidents needing attention")
check('ATTENTION_INDEX: &str = "attention"' in open("lambda/src/aws/dynamodb.rs", encoding="utf-8").read(),
      "the table adapter reads the index the template declares")
e2e_table = open("scripts/e2e_reports.py", encoding="utf-8").read()
check('"IndexName": "attention"' in e2e_table and "KEYS_ONLY" in e2e_table, "the end-to-end table has the same index")
check(table.get("BillingMode") == "PAY_PER_REQUEST", "the state table is on demand")
check(table.get("TimeToLiveSpecification") == {"AttributeName": "expires", "Enabled": True}, "the state table's items expire by `expires`")
dynamodb = open("lambda/src/aws/dynamodb.rs", encoding="utf-8").read()
check('"expires"' in dynamodb, "the table adapter writes `expires`")
check(any("ReportRecipients" in str(a["Assert"]) or "ReportRecipients" in str(r.get("RuleCondition"))
          for r in template.get("Rules", {}).values() for a in r.get("Assertions", [])),
      "a Rules assertion requires a rule set with ReportRecipients")
assertions = [a for r in template.get("Rules", {}).values() for a in r.get("Assertions", [])]
check(any("ReceiptRecipients" in str(a["Assert"]) for a in assertions), "a Rules assertion requires ReceiptRecipients")

# The canary (issue 16): only with a rule set and an address; scheduled under a stack-derived
# name; sending only probes, from the monitored identities, to the canary address; the
# table its only state; every identity's probes alarmed when they stop arriving.
canary = functions.get("CanaryFunction", {"Properties": {}})
check(canary.get("Condition") == "HasCanary", "CanaryFunction only with a rule set and CanaryAddress")
canary_schedule = canary["Properties"].get("Events", {}).get("Schedule", {}).get("Properties", {})
check(canary_schedule.get("Name") == {"Fn::Sub": "${AWS::StackName}-canary"}, "the canary's schedule name derives from the stack name")
check("CanaryIntervalMinutes" in str(canary_schedule.get("ScheduleExpression")), "the canary runs every CanaryIntervalMinutes")
canary_statements = [s for p in canary["Properties"].get("Policies", []) if isinstance(p, dict)
                     for s in p.get("Statement", [])]
send = [s for s in canary_statements if s.get("Action") == "ses:SendEmail"]
check(len(send) == 1, "one ses:SendEmail statement")
for statement in send:
    resource = str(statement["Resource"])
    check("identity/*" in resource and "configuration-set/${ConfigurationSetName}" in resource and "'*'" not in resource,
          "ses:SendEmail on identities and the configuration set only")
    condition = statement.get("Condition", {})
    check(condition.get("ForAllValues:StringEquals", {}).get("ses:Recipients") == [{"Ref": "CanaryAddress"}],
          "ses:SendEmail only to the canary address")
    check("MonitoredDomains" in str(condition.get("StringLike", {}).get("ses:FromAddress")),
          "ses:SendEmail only from the monitored identities")
# Incidents (issue 18): every function alerts, so every one keeps incidents in the table.
check(template["Globals"]["Function"]["Environment"]["Variables"].get("STATE_TABLE") == {"Ref": "StateTable"},
      "every function knows the state table")
for name in functions:
    statements = [s for p in functions.get(name, {}).get("Properties", {}).get("Policies", []) if isinstance(p, dict)
                  for s in p.get("Statement", [])]
    table_statements = [s for s in statements if str(s.get("Action")).count("dynamodb:")]
    check(table_statements and all(s["Resource"] in ({"Fn::GetAtt": ["StateTable", "Arn"]},
                                                     {"Fn::Sub": "${StateTable.Arn}/index/attention"})
                                   for s in table_statements),
          f"{name}: table actions on the state table only")
    actions = str([s["Action"] for s in table_statements])
    # The digest only reads (checked with the digest below); the others count and write.
    needed = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem") if name == "DigestFunction" else (
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchGetItem")
    check(all(a in actions for a in needed),
          f"{name}: may read, count, conditionally write and list incidents")
    index_statements = [s for s in statements if s.get("Resource") == {"Fn::Sub": "${StateTable.Arn}/index/attention"}]
    check(index_statements and all(s["Action"] == "dynamodb:Query" for s in index_statements),
          f"{name}: may query the attention index, and only query it")
receipt_variables = functions["ReceiptFunction"]["Properties"]["Environment"]["Variables"]
check("CANARY_ADDRESS" in receipt_variables, "the receipt function knows the canary address")
check(any("CanaryAddress" in str(a["Assert"]) and "Fn::Contains" in str(a["Assert"]) for a in assertions),
      "a Rules assertion requires CanaryAddress among ReceiptRecipients")
received_alarms = {n: a for n, a in of_type("AWS::CloudWatch::Alarm").items()
                   if "CanaryReceived" in str(a["Properties"].get("Metrics"))}
check(len(received_alarms) == 2, f"a CanaryReceived alarm in all and per identity, found {sorted(received_alarms)}")
for name, alarm in received_alarms.items():
    metrics = alarm["Properties"].get("Metrics", [])
    names = {m.get("MetricStat", {}).get("Metric", {}).get("MetricName") for m in metrics}
    check(names >= {"CanarySent", "CanaryReceived"},
          f"{name}: probes received against probes sent, so that no alarm fires at deploy before the first send")
    expression = " ".join(m.get("Expression", "") for m in metrics)
    check("FILL(sent, 0) > 0" in expression and "FILL(received, 0) == 0" in expression,
          f"{name}: alarms only when probes were sent and none arrived")
check(any("Identity" in str(a["Properties"].get("Metrics")) for a in received_alarms.values()),
      "a CanaryReceived alarm per identity")

# The weekly digest (issue 27): only with a sender and recipients, on its schedule (default
# Wednesday 09:00 UTC), sending only from DigestSender to DigestRecipients, reading the table.
digest = functions.get("DigestFunction", {"Properties": {}})
check(digest.get("Condition") == "HasDigest", "DigestFunction only with DigestSender and DigestRecipients")
check("DigestSender" in str(conditions.get("HasDigest")) and "DigestRecipients" in str(conditions.get("HasDigest")),
      "HasDigest needs both the sender and the recipients")
digest_schedule = digest["Properties"].get("Events", {}).get("Schedule", {}).get("Properties", {})
check(digest_schedule.get("ScheduleExpression") == {"Ref": "DigestSchedule"}, "the digest runs on DigestSchedule")
check(digest_schedule.get("Name") == {"Fn::Sub": "${AWS::StackName}-digest"}, "the digest's schedule name derives from the stack name")
check(parameters.get("DigestSchedule", {}).get("Default") == "cron(0 9 ? * WED *)", "the digest defaults to Wednesday 09:00 UTC")
for name in ("DigestSender", "DigestRecipients", "KnownServices"):
    pattern = parameters.get(name, {}).get("AllowedPattern", "")
    check(pattern and "A-Z" not in pattern, f"{name}: a lower-case pattern")
digest_statements = [s for p in digest["Properties"].get("Policies", []) if isinstance(p, dict)
                     for s in p.get("Statement", [])]
digest_send = [s for s in digest_statements if s.get("Action") == "ses:SendEmail"]
check(len(digest_send) == 1, "one ses:SendEmail statement for the digest")
for statement in digest_send:
    condition = statement.get("Condition", {})
    check(condition.get("StringEquals", {}).get("ses:FromAddress") == {"Ref": "DigestSender"},
          "ses:SendEmail only from DigestSender")
    check(condition.get("ForAllValues:StringEquals", {}).get("ses:Recipients") == {"Fn::Split": [",", {"Ref": "DigestRecipients"}]},
          "ses:SendEmail only to DigestRecipients")
    check("identity/*" not in str(statement.get("Resource")), "the digest sends from its own identity, not any")
digest_dynamodb = [a for s in digest_statements for a in ([s.get("Action")] if isinstance(s.get("Action"), str) else s.get("Action", []))
                   if str(a).startswith("dynamodb:")]
check(set(digest_dynamodb) <= {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"},
      f"the digest only reads the state table, found {sorted(set(digest_dynamodb))}")
digest_variables = digest["Properties"].get("Environment", {}).get("Variables", {})
check({"DIGEST_SENDER", "DIGEST_RECIPIENTS", "KNOWN_SERVICES"} <= set(digest_variables), "the digest's variables")
check("DigestFailuresAlarm" in of_type("AWS::CloudWatch::Alarm"), "an alarm when the digest was not sent")
check(any(s.get("Action") == "ses:ListResourceTenants" for s in digest_statements),
      "the digest may list each identity's SES tenants, to group by")

# 7. KMS: with an alert key, every function may use it.
for name, function in functions.items():
    policies = str(function["Properties"].get("Policies"))
    check("kms:GenerateDataKey*" in policies and "HasAlertKey" in policies, f"{name}: KMS statements under HasAlertKey")
for name in ("ReceiptTopic", "FeedbackTopic"):
    check("KmsMasterKeyId" in resources[name]["Properties"], f"{name}: encrypted")
key_policy = str(resources["TopicKey"]["Properties"]["KeyPolicy"])
check("ses.amazonaws.com" in key_policy, "the topic key lets SES use it")

# 6. Logs: one group per function, with the retention parameter; REPORT lines kept.
groups = of_type("AWS::Logs::LogGroup")
for name, function in functions.items():
    group = function["Properties"].get("LoggingConfig", {}).get("LogGroup", {}).get("Ref")
    check(group in groups, f"{name}: logs to a declared log group")
    if group in groups:
        check(groups[group]["Properties"].get("RetentionInDays") == {"Ref": "LogRetentionDays"}, f"{group}: retention")
check(parameters["LogRetentionDays"]["Default"] == 30, "LogRetentionDays defaults to 30")
check(template["Globals"]["Function"]["LoggingConfig"]["SystemLogLevel"] == "INFO", "SystemLogLevel INFO")

# 8. No reserved concurrency by default.
check(parameters["ReservedConcurrency"]["Default"] == 0, "ReservedConcurrency defaults to 0")
for name, function in functions.items():
    reserved = function["Properties"].get("ReservedConcurrentExecutions")
    check(reserved is None or "Fn::If" in reserved, f"{name}: reserved concurrency only under a condition")

# 9. arm64 only, as the build produces it.
check("Architecture" not in parameters, "no Architecture parameter")
check(template["Globals"]["Function"]["Architectures"] == ["arm64"], "Architectures [arm64]")
ci = open(".ci/run", encoding="utf-8").read()
check("cargo lambda build --release --arm64" in ci, ".ci/run builds the bootstraps for arm64, as deployed")
for name in functions:
    check(resources[name]["Metadata"].get("BuildMethod") == "rust-cargolambda", f"{name}: built by cargo-lambda (for the template's architecture)")

# 3-5. Alarms: missing data is missing for the audit's, and nothing pages on Errors or
# Throttles of the event-driven functions.
alarms = of_type("AWS::CloudWatch::Alarm")
for name, alarm in alarms.items():
    props = alarm["Properties"]
    check("TreatMissingData" in props, f"{name}: TreatMissingData stated")
    metric = props.get("MetricName")
    if metric in ("AuditChecksFailed", "AuditChecksUnjudged"):
        check(props["TreatMissingData"] == "missing", f"{name}: missing data is missing, not OK")
    if metric in ("Errors", "Throttles"):
        dims = str(props.get("Dimensions"))
        check("AuditFunction" in dims, f"{name}: no paging on {metric} of receipt or feedback")
# Issue 26: the incidents are the pages. No alarm on a finding's own metric (it would page
# beside its incident), and no OK action where data is sparse against the period: an OK
# there reads as a resolution and flaps.
finding_metrics = {"MailFromFallback", "AuthBounces", "AuthComplaints", "DmarcFail", "AuditChecksFailed", "Findings"}
metric_names = lambda props: {props.get("MetricName")} | {
    m.get("MetricStat", {}).get("Metric", {}).get("MetricName") for m in props.get("Metrics", [])}
for name, alarm in alarms.items():
    props = alarm["Properties"]
    check(not (metric_names(props) & finding_metrics), f"{name}: no alarm on a finding's metric; its incident pages")
    if "OKActions" in props:
        check(name.startswith("CanaryNotReceived"),
              f"{name}: an OK action only on the canary's alarms, whose probes come every few minutes")
state_alarm = alarms.get("StateErrorsAlarm", {}).get("Properties", {})
check({"IncidentErrors", "StateErrors"} <= metric_names(state_alarm) and "OKActions" not in state_alarm,
      "an alarm on IncidentErrors and StateErrors, without an OK action")
check(len([m for m in state_alarm.get("Metrics", []) if "MetricStat" in m]) == 10,
      "IncidentErrors and StateErrors of all five functions")
undelivered = alarms.get("UndeliveredAlarm", {}).get("Properties", {})
check(undelivered.get("AlarmActions") == [{"Fn::If": ["HasOpsTopicArn", {"Ref": "OpsTopicArn"}, {"Ref": "OpsTopic"}]}],
      "UndeliveredAlarm: to the second channel, never the alert topic whose delivery failed")
ops = resources.get("OpsEmailSubscription", {}).get("Properties", {})
check(ops.get("Endpoint") == {"Fn::If": ["HasOpsEmail", {"Ref": "OpsEmail"}, {"Ref": "AlertEmail"}]}
      and ops.get("TopicArn") == {"Ref": "OpsTopic"}, "the ops topic e-mails OpsEmail, or AlertEmail without one")
check("OpsEmail" in parameters and "OpsTopicArn" in parameters, "OpsEmail and OpsTopicArn parameters")
check("KmsMasterKeyId" not in resources.get("OpsTopic", {}).get("Properties", {}),
      "the ops topic is not under a key CloudWatch may not use (nor the alert topic's)")
sweep = functions["AuditFunction"]["Properties"]["Events"].get("Sweep", {}).get("Properties", {})
check(sweep.get("ScheduleExpression") == {"Ref": "SweepSchedule"} and sweep.get("Input") == '{"sweep": true}',
      "the sweep on its own schedule")
check(parameters.get("IncidentReportQuietHours", {}).get("MinValue", 0) > 24,
      "report incidents' quiet period longer than a day's reporting interval")
# Lower case: the functions lowercase what they read, and SES's policy conditions
# (ses:Recipients, ses:FromAddress) compare case-sensitively.
for name in ("CanaryAddress", "MonitoredDomains", "MailFromDomains", "CanaryFromLocalPart", "TrustedReporters"):
    pattern = parameters[name].get("AllowedPattern", "")
    check(pattern and "A-Z" not in pattern, f"{name}: a lower-case pattern")

metrics_alarmed = {a["Properties"].get("MetricName") for a in alarms.values()}
for metric in ("MalformedEvents", "UnknownValues", "AsyncEventsDropped", "AuditChecksUnjudged", "ConfigurationErrors", "ReportsUnreadable"):
    check(metric in metrics_alarmed, f"an alarm on {metric}")

# 10. The schedule is named after the stack; every subscription has a redrive policy.
schedule = functions["AuditFunction"]["Properties"]["Events"]["Schedule"]["Properties"]
check(template.get("Transform") == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"],
      "LanguageExtensions expands Fn::ForEach before SAM")
check(schedule.get("Name") == {"Fn::Sub": "${AWS::StackName}-audit"}, "the schedule's name derives from the stack name")
check("Default" not in parameters["AlertEmail"] and "AllowedPattern" in parameters["AlertEmail"], "AlertEmail required")
for name in ("MonitoredDomains", "MailFromDomains"):
    check("AllowedPattern" in parameters[name], f"{name}: AllowedPattern")
for name, sub in of_type("AWS::SNS::Subscription").items():
    check("RedrivePolicy" in sub["Properties"], f"{name}: redrive policy")
for name, function in functions.items():
    for event_name, event in function["Properties"].get("Events", {}).items():
        if event["Type"] == "SNS":
            check("RedrivePolicy" in event["Properties"], f"{name}.{event_name}: redrive policy")

# 5. DELIVERY events are opt-in.
check(parameters["PublishDeliveryEvents"]["Default"] == "false", "DELIVERY events off by default")

# 11. Topic policies name their source.
for name, policy in of_type("AWS::SNS::TopicPolicy").items():
    check("aws:SourceArn" in str(policy["Properties"]["PolicyDocument"]), f"{name}: aws:SourceArn condition")
for name in ("ReceiptFunction", "FeedbackFunction"):
    variables = functions[name]["Properties"].get("Environment", {}).get("Variables", {})
    check("EXPECTED_TOPIC_ARNS" in variables, f"{name}: EXPECTED_TOPIC_ARNS")

# 11. SESv2 denials are counted from the log line the adapter writes.
sesv2 = open("lambda/src/aws/sesv2.rs", encoding="utf-8").read()
for name, metric_filter in of_type("AWS::Logs::MetricFilter").items():
    pattern = metric_filter["Properties"]["FilterPattern"]
    prefix = pattern.split('"')[1].rstrip("*")
    check(f'pub const DENIED: &str = "{prefix}' in sesv2, f"{name}: matches sesv2::DENIED")
check(len(of_type("AWS::Logs::MetricFilter")) == len(functions), "a denial filter per function")

# Issue 28: the report rows. A Glue table over rows/ with partition projection on dt, an
# Athena workgroup with a results bucket and a scan limit, one named query per queries/*.sql
# holding its text verbatim, the Firehose stream only in firehose mode, each write scoped.
check(parameters.get("ReportRows", {}).get("Default") == "direct"
      and parameters.get("ReportRows", {}).get("AllowedValues") == ["off", "direct", "firehose"],
      "ReportRows: off, direct or firehose, direct by default")
lifecycle = {r.get("Prefix"): r for r in bucket.get("LifecycleConfiguration", {}).get("Rules", [])}
check(lifecycle.get("reports/", {}).get("ExpirationInDays") == {"Ref": "ReportRetentionDays"}
      and parameters.get("ReportRetentionDays", {}).get("Default") == 90,
      "raw report mail expires after ReportRetentionDays (default 90)")
check(lifecycle.get("rows/", {}).get("ExpirationInDays") == {"Ref": "RowRetentionDays"}
      and parameters.get("RowRetentionDays", {}).get("Default") == 400,
      "report rows expire after RowRetentionDays (default 400)")
tables = of_type("AWS::Glue::Table")
check(sorted(tables) == ["ReportRowsTable"], f"one Glue table, found {sorted(tables)}")
table = tables.get("ReportRowsTable", {"Properties": {"TableInput": {}}})
table_input = table["Properties"]["TableInput"]
check(table.get("Condition") == "HasRows" and table_input.get("Name") == "report_rows", "the table report_rows, with rows on")
projection = table_input.get("Parameters", {})
check(projection.get("projection.enabled") == "true" and projection.get("projection.dt.type") == "date"
      and projection.get("projection.dt.format") == "yyyy-MM-dd"
      and "rows/dt=${!dt}/" in str(projection.get("storage.location.template")),
      "report_rows: partition projection on dt (a date, yyyy-MM-dd) under rows/dt=")
check(table_input.get("PartitionKeys") == [{"Name": "dt", "Type": "string"}], "report_rows: dt is the partition key, a string")
check(table_input.get("StorageDescriptor", {}).get("Location") == {"Fn::Sub": "s3://${RawMessageBucket}/rows/"},
      "report_rows: located under rows/ in the bucket")
workgroups = of_type("AWS::Athena::WorkGroup")
workgroup = workgroups.get("AnalyticsWorkGroup", {"Properties": {}})["Properties"].get("WorkGroupConfiguration", {})
check(workgroup.get("BytesScannedCutoffPerQuery") == {"Ref": "AthenaBytesScannedCutoff"}
      and workgroup.get("EnforceWorkGroupConfiguration") is True
      and "AnalyticsResultsBucket" in str(workgroup.get("ResultConfiguration", {}).get("OutputLocation")),
      "AnalyticsWorkGroup: a results bucket of its own and an enforced per-query scan limit")
import glob
import os
named = {q["Properties"]["Name"]: q for q in of_type("AWS::Athena::NamedQuery").values()}
files = {os.path.basename(f)[:-4]: open(f, encoding="utf-8").read() for f in glob.glob("queries/*.sql")}
check(files and sorted(named) == sorted(files), f"one named query per queries/*.sql: {sorted(named)} vs {sorted(files)}")
for name, text in files.items():
    query = named.get(name, {"Properties": {}})["Properties"]
    check(query.get("QueryString") == text, f"named query {name}: QueryString is queries/{name}.sql verbatim")
    check(query.get("Database") == {"Ref": "AnalyticsDatabase"} and query.get("WorkGroup") == {"Ref": "AnalyticsWorkGroup"},
          f"named query {name}: in the stack's database and workgroup")
    check(" report_rows" in text and "." + "report_rows" not in text, f"queries/{name}.sql: names report_rows unqualified")
streams = of_type("AWS::KinesisFirehose::DeliveryStream")
check(sorted(streams) == ["RowsStream"] and streams["RowsStream"].get("Condition") == "RowsFirehose",
      "the Firehose stream only in firehose mode")
destination = streams.get("RowsStream", {"Properties": {}})["Properties"].get("ExtendedS3DestinationConfiguration", {})
check(str(destination.get("Prefix", "")).startswith("rows/dt=!{partitionKeyFromQuery:dt}/")
      and destination.get("DataFormatConversionConfiguration", {}).get("SchemaConfiguration", {}).get("TableName")
      == {"Ref": "ReportRowsTable"},
      "RowsStream: Parquet against report_rows, partitioned by each row's dt under rows/")
role = resources.get("RowsStreamRole", {"Properties": {}})
check(role.get("Condition") == "RowsFirehose", "the stream's role only in firehose mode")
role_statements = [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
puts = [s for s in role_statements if "s3:PutObject" in s["Action"]]
check(puts and all(str(r).endswith(("/rows/*'}", "/rows-errors/*'}")) for s in puts for r in s["Resource"]),
      "RowsStream's role writes under rows/ and rows-errors/ only")
reports_statements = [s for p in functions["ReportsFunction"]["Properties"].get("Policies", [])
                      if isinstance(p, dict) and "Fn::If" in p
                      for branch in p["Fn::If"][1:2] if isinstance(branch, dict)
                      for s in branch.get("Statement", [])]
row_puts = [s for s in reports_statements if s.get("Action") == "s3:PutObject"]
check(row_puts and all(str(s["Resource"]).endswith("/rows/*'}") for s in row_puts),
      "ReportsFunction writes objects under rows/ only")
firehose_puts = [s for s in reports_statements if s.get("Action") == "firehose:PutRecordBatch"]
check(firehose_puts and all(s["Resource"] == {"Fn::GetAtt": ["RowsStream", "Arn"]} for s in firehose_puts),
      "ReportsFunction puts records to RowsStream only")
reports_variables = functions["ReportsFunction"]["Properties"]["Environment"]["Variables"]
check(reports_variables.get("REPORT_ROWS") == {"Ref": "ReportRows"}, "the reports function writes rows as ReportRows says")

if failures:
    sys.exit("template.yaml:\n  " + "\n  ".join(failures))
print(f"template.yaml: every checked property holds ({len(resources)} resources)")
