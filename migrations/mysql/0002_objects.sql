-- Schema version 2: every kind of object (users, groups, folders, admins, roles, API
-- keys, shares, event actions and rules, IP list entries, configs) as a JSON document
-- keyed by (kind, name), with counter columns that concurrent updates add to, and the
-- references between objects. Deleting a referenced object fails at the database level
-- (object_refs.to_id has no ON DELETE action): the provider unlinks or cascades first.
-- utf8mb4 with a binary collation: names compare and sort by bytes, as on the others.
CREATE TABLE IF NOT EXISTS {prefix}objects (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    kind BIGINT NOT NULL,
    name VARCHAR(512) NOT NULL,
    data LONGTEXT NOT NULL,
    c0 BIGINT NOT NULL DEFAULT 0,
    c1 BIGINT NOT NULL DEFAULT 0,
    c2 BIGINT NOT NULL DEFAULT 0,
    c3 BIGINT NOT NULL DEFAULT 0,
    c4 BIGINT NOT NULL DEFAULT 0,
    c5 BIGINT NOT NULL DEFAULT 0,
    c6 BIGINT NOT NULL DEFAULT 0,
    c7 BIGINT NOT NULL DEFAULT 0,
    UNIQUE KEY {prefix}objects_kind_name (kind, name)
) ENGINE = InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS {prefix}object_refs (
    from_id BIGINT NOT NULL,
    to_id BIGINT NOT NULL,
    PRIMARY KEY (from_id, to_id),
    KEY {prefix}object_refs_to (to_id),
    CONSTRAINT {prefix}object_refs_from_fk FOREIGN KEY (from_id)
        REFERENCES {prefix}objects (id) ON DELETE CASCADE,
    CONSTRAINT {prefix}object_refs_to_fk FOREIGN KEY (to_id)
        REFERENCES {prefix}objects (id)
) ENGINE = InnoDB;
-- Schema 1's users become documents (kind 1); counters move to their slots, including
-- the transfer counters and first transfer times schema 1 kept in `extra`.
INSERT INTO {prefix}objects (id, kind, name, data, c0, c1, c2, c3, c4, c5, c6, c7)
SELECT id, 1, username,
    JSON_MERGE_PATCH(JSON_REMOVE(JSON_EXTRACT(extra, '$'), '$.used_upload_data_transfer', '$.used_download_data_transfer', '$.first_upload', '$.first_download'), JSON_OBJECT(
        'username', username, 'status', status, 'password', password,
        'public_keys', JSON_EXTRACT(public_keys, '$'), 'home_dir', home_dir, 'uid', uid, 'gid', gid,
        'max_sessions', max_sessions, 'quota_size', quota_size, 'quota_files', quota_files,
        'permissions', JSON_EXTRACT(permissions, '$'), 'upload_bandwidth', upload_bandwidth,
        'download_bandwidth', download_bandwidth, 'expiration_date', expiration_date,
        'filters', JSON_EXTRACT(filters, '$'), 'filesystem', JSON_EXTRACT(filesystem, '$'),
        'additional_info', additional_info, 'description', description, 'email', email,
        'created_at', created_at, 'updated_at', updated_at)),
    used_quota_size, used_quota_files, last_quota_update,
    COALESCE(CAST(JSON_EXTRACT(extra, '$.used_upload_data_transfer') AS SIGNED), 0), COALESCE(CAST(JSON_EXTRACT(extra, '$.used_download_data_transfer') AS SIGNED), 0),
    last_login,
    COALESCE(CAST(JSON_EXTRACT(extra, '$.first_upload') AS SIGNED), 0), COALESCE(CAST(JSON_EXTRACT(extra, '$.first_download') AS SIGNED), 0)
FROM {prefix}users;
DROP TABLE {prefix}users;
