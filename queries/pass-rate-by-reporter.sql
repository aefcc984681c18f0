-- Pass rate per reporter per day: the share of the messages each receiver saw that passed
-- DMARC. Parameters: the first and the last day.
SELECT dt,
       policy_domain,
       org_name,
       sum("count") AS messages,
       sum(CASE WHEN dmarc = 'pass' THEN "count" ELSE 0 END) AS dmarc_pass,
       round(100.0 * sum(CASE WHEN dmarc = 'pass' THEN "count" ELSE 0 END)
             / nullif(sum("count"), 0), 1) AS pass_percent
FROM report_rows
WHERE dt BETWEEN ? AND ?
GROUP BY dt, policy_domain, org_name
ORDER BY dt, policy_domain, org_name
