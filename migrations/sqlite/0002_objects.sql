-- Schema version 2: every kind of object (users, groups, folders, admins, roles, API
-- keys, shares, event actions and rules, IP list entries, configs) as a JSON document
-- keyed by (kind, name), with counter columns that concurrent updates add to, and the
-- references between objects. Deleting a referenced object fails at the database level
-- (object_refs.to_id has no ON DELETE action): the provider unlinks or cascades first.
CREATE TABLE IF NOT EXISTS {prefix}objects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind INTEGER NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    c0 INTEGER NOT NULL DEFAULT 0,
    c1 INTEGER NOT NULL DEFAULT 0,
    c2 INTEGER NOT NULL DEFAULT 0,
    c3 INTEGER NOT NULL DEFAULT 0,
    c4 INTEGER NOT NULL DEFAULT 0,
    c5 INTEGER NOT NULL DEFAULT 0,
    c6 INTEGER NOT NULL DEFAULT 0,
    c7 INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, name)
);
CREATE TABLE IF NOT EXISTS {prefix}object_refs (
    from_id INTEGER NOT NULL REFERENCES {prefix}objects (id) ON DELETE CASCADE,
    to_id INTEGER NOT NULL REFERENCES {prefix}objects (id),
    PRIMARY KEY (from_id, to_id)
);
CREATE INDEX IF NOT EXISTS {prefix}object_refs_to ON {prefix}object_refs (to_id);
-- Schema 1's users become documents (kind 1); counters move to their slots, including
-- the transfer counters and first transfer times schema 1 kept in `extra`.
INSERT INTO {prefix}objects (id, kind, name, data, c0, c1, c2, c3, c4, c5, c6, c7)
SELECT id, 1, username,
    json_patch(json_remove(json(extra), '$.used_upload_data_transfer', '$.used_download_data_transfer', '$.first_upload', '$.first_download'), json_object(
        'username', username, 'status', status, 'password', password,
        'public_keys', json(public_keys), 'home_dir', home_dir, 'uid', uid, 'gid', gid,
        'max_sessions', max_sessions, 'quota_size', quota_size, 'quota_files', quota_files,
        'permissions', json(permissions), 'upload_bandwidth', upload_bandwidth,
        'download_bandwidth', download_bandwidth, 'expiration_date', expiration_date,
        'filters', json(filters), 'filesystem', json(filesystem),
        'additional_info', additional_info, 'description', description, 'email', email,
        'created_at', created_at, 'updated_at', updated_at)),
    used_quota_size, used_quota_files, last_quota_update,
    COALESCE(json_extract(extra, '$.used_upload_data_transfer'), 0), COALESCE(json_extract(extra, '$.used_download_data_transfer'), 0),
    last_login,
    COALESCE(json_extract(extra, '$.first_upload'), 0), COALESCE(json_extract(extra, '$.first_download'), 0)
FROM {prefix}users;
DROP TABLE {prefix}users;
