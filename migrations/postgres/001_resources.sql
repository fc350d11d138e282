-- Current version of every resource, for reads by id.
CREATE TABLE resources (
    type         text    NOT NULL,
    id           text    NOT NULL,
    version      bigint  NOT NULL,
    last_updated bigint  NOT NULL, -- microseconds since the Unix epoch, UTC
    deleted      boolean NOT NULL DEFAULT false,
    data         bytea,            -- canonical JSON; NULL when deleted
    PRIMARY KEY (type, id)
);

-- Every version, including deletions; seq orders versions across resources.
CREATE TABLE resource_history (
    seq          bigserial PRIMARY KEY,
    type         text    NOT NULL,
    id           text    NOT NULL,
    version      bigint  NOT NULL,
    last_updated bigint  NOT NULL,
    method       text    NOT NULL,
    deleted      boolean NOT NULL DEFAULT false,
    data         bytea,
    UNIQUE (type, id, version)
);
CREATE INDEX resource_history_type_time ON resource_history (type, last_updated, seq);
CREATE INDEX resource_history_time ON resource_history (last_updated, seq);
