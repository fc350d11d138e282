-- The audit writer numbers the events of a batch it copies itself, from
-- blocks of the audit log's sequence: one nextval per 1,024 events instead
-- of one per event, which cost PostgreSQL about a tenth of storing the
-- event (resources/postgres/audit.go, auditSeqBlock). An event inserted on
-- its own takes the first number of a block. Numbers keep increasing in the
-- order they are handed out, as history and its paging need; the log has
-- gaps between blocks, which nothing reads.
ALTER SEQUENCE audit_event_seq_seq INCREMENT BY 1024;
