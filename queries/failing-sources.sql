-- Failing sources per domain for a date range: every source whose mail failed DMARC at the
-- receivers, with who sent it, how much and on which days. Parameters: the first and the
-- last day, as 'YYYY-MM-DD'.
SELECT policy_domain,
       source_ip,
       source_class,
       source_name,
       sum("count") AS messages,
       count(DISTINCT org_name) AS reporters,
       min(dt) AS first_day,
       max(dt) AS last_day
FROM report_rows
WHERE dmarc = 'fail'
  AND dt BETWEEN ? AND ?
GROUP BY policy_domain, source_ip, source_class, source_name
ORDER BY policy_domain, messages DESC, source_ip
