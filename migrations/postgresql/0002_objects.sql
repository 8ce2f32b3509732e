-- Schema version 2: every kind of object (users, groups, folders, admins, roles, API
-- keys, shares, event actions and rules, IP list entries, configs) as a JSON document
-- keyed by (kind, name), with counter columns that concurrent updates add to, and the
-- references between objects. Deleting a referenced object fails at the database level
-- (object_refs.to_id has no ON DELETE action): the provider unlinks or cascades first.
CREATE TABLE IF NOT EXISTS {prefix}objects (
    id BIGSERIAL PRIMARY KEY,
    kind BIGINT NOT NULL,
    name VARCHAR(512) NOT NULL,
    data TEXT NOT NULL,
    c0 BIGINT NOT NULL DEFAULT 0,
    c1 BIGINT NOT NULL DEFAULT 0,
    c2 BIGINT NOT NULL DEFAULT 0,
    c3 BIGINT NOT NULL DEFAULT 0,
    c4 BIGINT NOT NULL DEFAULT 0,
    c5 BIGINT NOT NULL DEFAULT 0,
    c6 BIGINT NOT NULL DEFAULT 0,
    c7 BIGINT NOT NULL DEFAULT 0,
    UNIQUE (kind, name)
);
CREATE TABLE IF NOT EXISTS {prefix}object_refs (
    from_id BIGINT NOT NULL REFERENCES {prefix}objects (id) ON DELETE CASCADE,
    to_id BIGINT NOT NULL REFERENCES {prefix}objects (id),
    PRIMARY KEY (from_id, to_id)
);
CREATE INDEX IF NOT EXISTS {prefix}object_refs_to ON {prefix}object_refs (to_id);
-- Schema 1's users become documents (kind 1); counters move to their slots, including
-- the transfer counters and first transfer times schema 1 kept in `extra`.
INSERT INTO {prefix}objects (id, kind, name, data, c0, c1, c2, c3, c4, c5, c6, c7)
SELECT id, 1, username,
    ((extra::jsonb - ARRAY['used_upload_data_transfer', 'used_download_data_transfer', 'first_upload', 'first_download']) || jsonb_build_object(
        'username', username, 'status', status, 'password', password,
        'public_keys', public_keys::jsonb, 'home_dir', home_dir, 'uid', uid, 'gid', gid,
        'max_sessions', max_sessions, 'quota_size', quota_size, 'quota_files', quota_files,
        'permissions', permissions::jsonb, 'upload_bandwidth', upload_bandwidth,
        'download_bandwidth', download_bandwidth, 'expiration_date', expiration_date,
        'filters', filters::jsonb, 'filesystem', filesystem::jsonb,
        'additional_info', additional_info, 'description', description, 'email', email,
        'created_at', created_at, 'updated_at', updated_at))::text,
    used_quota_size, used_quota_files, last_quota_update,
    COALESCE((extra::jsonb->>'used_upload_data_transfer')::bigint, 0), COALESCE((extra::jsonb->>'used_download_data_transfer')::bigint, 0),
    last_login,
    COALESCE((extra::jsonb->>'first_upload')::bigint, 0), COALESCE((extra::jsonb->>'first_download')::bigint, 0)
FROM {prefix}users;
SELECT setval(pg_get_serial_sequence('{prefix}objects', 'id'),
    (SELECT COALESCE(MAX(id), 0) + 1 FROM {prefix}objects), false);
DROP TABLE {prefix}users;
