-- Receivers' overrides and "sender requirement" comments: each reason a receiver gave for
-- another disposition than the policy's (a forwarder, a mailing list, its local policy), and
-- whether it says a bulk-sender requirement failed (Gmail writes "Sender requirement failed:
-- 550-5.7.30 ..."). A row's first three reasons. Parameters: the first and the last day.
WITH in_range AS (
  SELECT * FROM report_rows WHERE dt BETWEEN ? AND ?
),
reasons AS (
  SELECT dt, policy_domain, org_name, source_ip, source_class, disposition, "count",
         CASE WHEN cardinality(overrides) >= 1 THEN overrides[1].type END AS reason_type,
         CASE WHEN cardinality(overrides) >= 1 THEN overrides[1].comment END AS reason_comment
  FROM in_range WHERE cardinality(overrides) >= 1
  UNION ALL
  SELECT dt, policy_domain, org_name, source_ip, source_class, disposition, "count",
         CASE WHEN cardinality(overrides) >= 2 THEN overrides[2].type END,
         CASE WHEN cardinality(overrides) >= 2 THEN overrides[2].comment END
  FROM in_range WHERE cardinality(overrides) >= 2
  UNION ALL
  SELECT dt, policy_domain, org_name, source_ip, source_class, disposition, "count",
         CASE WHEN cardinality(overrides) >= 3 THEN overrides[3].type END,
         CASE WHEN cardinality(overrides) >= 3 THEN overrides[3].comment END
  FROM in_range WHERE cardinality(overrides) >= 3
)
SELECT dt, policy_domain, org_name, source_ip, source_class, disposition,
       "count" AS messages, reason_type, reason_comment,
       lower(coalesce(reason_comment, '')) LIKE '%sender requirement%' AS sender_requirement
FROM reasons
ORDER BY dt, policy_domain, org_name, source_ip, reason_type
