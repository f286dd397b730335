-- Rate-limit counters live for minutes and are worthless after a crash: no WAL for them
-- (unlogged; a standby starts its counts afresh after a failover), and the sweep of old windows
-- goes through an index instead of scanning the table.
ALTER TABLE rate_limit_hits SET UNLOGGED;
CREATE INDEX rate_limit_hits_window ON rate_limit_hits (window_start);
