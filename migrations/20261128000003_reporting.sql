-- Reporting views: plain SQL over verdicts for risk analysts (docs/reporting.md).
--
-- Days are UTC calendar days of `verdicts.decided_at`. Nothing here reads `verdicts.frames`,
-- `transactions.citizen_id` or `transactions.device`: retention empties or hashes those, and
-- the reports must read the same before and after.

-- The one place that says what a verdict's outcome is; every other view builds on it.
--   live             valid
--   attack           715: a capture signal failed (failed_signal set) or the face models
--                    scored the face below the tenant's threshold (failed_signal NULL)
--   service_failure  709, 711, 712: the service could not judge the capture (also an
--                    invalid verdict without a code, which the worker never writes)
--   rejected_quality every other code (700-708, 710, 713, 714): the image was unusable
CREATE VIEW verdict_outcomes AS
SELECT
    v.transaction_id,
    v.tenant_id,
    te.name AS tenant_name,
    (v.decided_at AT TIME ZONE 'UTC')::date AS day,
    t.created_at AS submitted_at,
    v.decided_at,
    CASE
        WHEN v.valid THEN 'live'
        WHEN v.error_code = 715 THEN 'attack'
        WHEN v.error_code IS NULL OR v.error_code IN (709, 711, 712) THEN 'service_failure'
        ELSE 'rejected_quality'
    END AS outcome,
    v.error_code,
    -- What caught an attack: the first failed capture signal, else the face models.
    CASE
        WHEN NOT v.valid AND v.error_code = 715 THEN coalesce(v.failed_signal, 'face_model')
    END AS fired,
    v.failed_signal,
    v.face_probability,
    v.capture_score,
    v.capture_probability,
    -- Submit to verdict, as the client waits for it (queueing and retries included).
    extract(EPOCH FROM v.decided_at - t.created_at)::double precision * 1000 AS latency_ms,
    -- The worker's own time for the job (fetch, capture checks, faces); NULL for failures.
    (v.timings_ms ->> 'total')::double precision AS worker_ms
FROM verdicts v
JOIN transactions t ON t.id = v.transaction_id
JOIN tenants te ON te.id = v.tenant_id;

CREATE VIEW fraud_attempts AS
SELECT
    transaction_id,
    tenant_id,
    tenant_name,
    day,
    submitted_at,
    decided_at,
    fired,
    face_probability,
    capture_score,
    capture_probability
FROM verdict_outcomes
WHERE outcome = 'attack';

-- One row per day, tenant and code (error_code NULL for live): sum over `outcome` for
-- counts by outcome, over `error_code` for counts by code.
CREATE VIEW daily_outcomes AS
SELECT
    day,
    tenant_id,
    tenant_name,
    outcome,
    error_code,
    count(*) AS verdicts
FROM verdict_outcomes
GROUP BY day, tenant_id, tenant_name, outcome, error_code;

-- attack_rate = attacks / total, over every verdict of the day (service failures included,
-- so a day of outages does not look like a day of attacks).
CREATE VIEW daily_attack_rate AS
SELECT
    day,
    tenant_id,
    tenant_name,
    count(*) AS total,
    count(*) FILTER (WHERE outcome = 'live') AS live,
    count(*) FILTER (WHERE outcome = 'attack') AS attacks,
    count(*) FILTER (WHERE outcome = 'rejected_quality') AS rejected_quality,
    count(*) FILTER (WHERE outcome = 'service_failure') AS service_failures,
    (count(*) FILTER (WHERE outcome = 'attack'))::double precision / count(*) AS attack_rate
FROM verdict_outcomes
GROUP BY day, tenant_id, tenant_name;

-- `capture_signals` holds every signal the worker evaluated, as
-- {"name", "passed", "weight", "detail"}; a packet that does not open stops after its first
-- signal, so `evaluated` differs between signals. `fired` counts the verdicts where the
-- signal was the first to fail (the one reported to the client).
CREATE VIEW capture_signal_frequencies AS
SELECT
    o.day,
    o.tenant_id,
    o.tenant_name,
    s.signal ->> 'name' AS signal,
    count(*) AS evaluated,
    count(*) FILTER (WHERE NOT (s.signal ->> 'passed')::boolean) AS failed,
    count(*) FILTER (WHERE o.failed_signal = s.signal ->> 'name') AS fired,
    (count(*) FILTER (WHERE NOT (s.signal ->> 'passed')::boolean))::double precision
        / count(*) AS failure_rate
FROM verdict_outcomes o
JOIN verdicts v ON v.transaction_id = o.transaction_id
CROSS JOIN LATERAL jsonb_array_elements(v.capture_signals) AS s (signal)
GROUP BY o.day, o.tenant_id, o.tenant_name, s.signal ->> 'name';

-- Percentiles are interpolated (percentile_cont); worker_* leave out verdicts without
-- worker timings (service failures).
CREATE VIEW daily_latency AS
SELECT
    day,
    tenant_id,
    tenant_name,
    count(*) AS verdicts,
    percentile_cont(0.50) WITHIN GROUP (ORDER BY latency_ms) AS latency_p50_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS latency_p95_ms,
    percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS latency_p99_ms,
    percentile_cont(0.50) WITHIN GROUP (ORDER BY worker_ms) AS worker_p50_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY worker_ms) AS worker_p95_ms,
    percentile_cont(0.99) WITHIN GROUP (ORDER BY worker_ms) AS worker_p99_ms
FROM verdict_outcomes
GROUP BY day, tenant_id, tenant_name;
