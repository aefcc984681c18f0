-- SES envelope (fallback) rows by day and reporter: mail SES sent with its own amazonses.com
-- MAIL FROM, which SPF alignment cannot pass. For a domain with a custom MAIL FROM, each is
-- a message sent while it was not in use. Parameters: the first and the last day.
SELECT dt,
       policy_domain,
       org_name,
       sum("count") AS messages,
       sum(CASE WHEN dmarc = 'pass' THEN "count" ELSE 0 END) AS dmarc_pass,
       count(DISTINCT source_ip) AS sources
FROM report_rows
WHERE source_class = 'ses'
  AND (lower(envelope_from) = 'amazonses.com'
       OR lower(envelope_from) LIKE '%.amazonses.com'
       -- Reporters that leave the envelope out give the SPF domain.
       OR (envelope_from IS NULL
           AND CASE WHEN cardinality(spf) >= 1 THEN lower(spf[1].domain) END LIKE '%amazonses.com'))
  AND dt BETWEEN ? AND ?
GROUP BY dt, policy_domain, org_name
ORDER BY dt, policy_domain, org_name
