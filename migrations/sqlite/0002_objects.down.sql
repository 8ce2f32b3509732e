-- Reverts schema 2 to schema 1 (`sftpgo revertprovider --to-version 1`): users go back
-- to their own table (created by 0001 just before this runs) with their counters; every
-- other kind of object is dropped, as schema 1 has no place for it.
INSERT INTO {prefix}users (id, username, status, password, public_keys, home_dir, uid, gid,
    max_sessions, quota_size, quota_files, permissions, used_quota_size, used_quota_files,
    last_quota_update, upload_bandwidth, download_bandwidth, expiration_date, last_login,
    filters, filesystem, additional_info, description, email, created_at, updated_at, extra)
SELECT
    id,
    name,
    COALESCE(json_extract(data, '$.status'), 1),
    COALESCE(json_extract(data, '$.password'), ''),
    COALESCE(json_extract(data, '$.public_keys'), '[]'),
    COALESCE(json_extract(data, '$.home_dir'), ''),
    COALESCE(json_extract(data, '$.uid'), 0),
    COALESCE(json_extract(data, '$.gid'), 0),
    COALESCE(json_extract(data, '$.max_sessions'), 0),
    COALESCE(json_extract(data, '$.quota_size'), 0),
    COALESCE(json_extract(data, '$.quota_files'), 0),
    COALESCE(json_extract(data, '$.permissions'), '{}'),
    c0,
    c1,
    c2,
    COALESCE(json_extract(data, '$.upload_bandwidth'), 0),
    COALESCE(json_extract(data, '$.download_bandwidth'), 0),
    COALESCE(json_extract(data, '$.expiration_date'), 0),
    c5,
    COALESCE(json_extract(data, '$.filters'), '{}'),
    COALESCE(json_extract(data, '$.filesystem'), '{}'),
    COALESCE(json_extract(data, '$.additional_info'), ''),
    COALESCE(json_extract(data, '$.description'), ''),
    COALESCE(json_extract(data, '$.email'), ''),
    COALESCE(json_extract(data, '$.created_at'), 0),
    COALESCE(json_extract(data, '$.updated_at'), 0),
    json_set(json_remove(data, '$.username', '$.status', '$.uid', '$.gid', '$.max_sessions', '$.quota_size', '$.quota_files', '$.upload_bandwidth', '$.download_bandwidth', '$.expiration_date', '$.created_at', '$.updated_at', '$.password', '$.home_dir', '$.additional_info', '$.description', '$.email', '$.public_keys', '$.permissions', '$.filters', '$.filesystem'),
        '$.used_upload_data_transfer', c3, '$.used_download_data_transfer', c4, '$.first_upload', c6, '$.first_download', c7)
FROM {prefix}objects WHERE kind = 1;
DROP TABLE {prefix}object_refs;
DROP TABLE {prefix}objects;
