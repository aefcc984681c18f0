-- Sources never seen before a date: each source's first day in the rows, for sources whose
-- first day is that date or later. Parameter: the date.
SELECT policy_domain,
       source_ip,
       source_class,
       source_name,
       min(dt) AS first_day,
       sum("count") AS messages,
       sum(CASE WHEN dmarc = 'fail' THEN "count" ELSE 0 END) AS dmarc_fail
FROM report_rows
GROUP BY policy_domain, source_ip, source_class, source_name
HAVING min(dt) >= ?
ORDER BY policy_domain, first_day, messages DESC, source_ip
