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
    COALESCE(CAST(JSON_EXTRACT(data, '$.status') AS SIGNED), 1),
    COALESCE(JSON_UNQUOTE(JSON_EXTRACT(data, '$.password')), ''),
    COALESCE(JSON_EXTRACT(data, '$.public_keys'), '[]'),
    COALESCE(JSON_UNQUOTE(JSON_EXTRACT(data, '$.home_dir')), ''),
    COALESCE(CAST(JSON_EXTRACT(data, '$.uid') AS SIGNED), 0),
    COALESCE(CAST(JSON_EXTRACT(data, '$.gid') AS SIGNED), 0),
    COALESCE(CAST(JSON_EXTRACT(data, '$.max_sessions') AS SIGNED), 0),
    COALESCE(CAST(JSON_EXTRACT(data, '$.quota_size') AS SIGNED), 0),
    COALESCE(CAST(JSON_EXTRACT(data, '$.quota_files') AS SIGNED), 0),
    COALESCE(JSON_EXTRACT(data, '$.permissions'), '{}'),
    c0,
    c1,
    c2,
    COALESCE(CAST(JSON_EXTRACT(data, '$.upload_bandwidth') AS SIGNED), 0),
    COALESCE(CAST(JSON_EXTRACT(data, '$.download_bandwidth') AS SIGNED), 0),
    COALESCE(CAST(JSON_EXTRACT(data, '$.expiration_date') AS SIGNED), 0),
    c5,
    COALESCE(JSON_EXTRACT(data, '$.filters'), '{}'),
    COALESCE(JSON_EXTRACT(data, '$.filesystem'), '{}'),
    COALESCE(JSON_UNQUOTE(JSON_EXTRACT(data, '$.additional_info')), ''),
    COALESCE(JSON_UNQUOTE(JSON_EXTRACT(data, '$.description')), ''),
    COALESCE(JSON_UNQUOTE(JSON_EXTRACT(data, '$.email')), ''),
    COALESCE(CAST(JSON_EXTRACT(data, '$.created_at') AS SIGNED), 0),
    COALESCE(CAST(JSON_EXTRACT(data, '$.updated_at') AS SIGNED), 0),
    JSON_SET(JSON_REMOVE(data, '$.username', '$.status', '$.uid', '$.gid', '$.max_sessions', '$.quota_size', '$.quota_files', '$.upload_bandwidth', '$.download_bandwidth', '$.expiration_date', '$.created_at', '$.updated_at', '$.password', '$.home_dir', '$.additional_info', '$.description', '$.email', '$.public_keys', '$.permissions', '$.filters', '$.filesystem'),
        '$.used_upload_data_transfer', c3, '$.used_download_data_transfer', c4, '$.first_upload', c6, '$.first_download', c7)
FROM {prefix}objects WHERE kind = 1;
DROP TABLE {prefix}object_refs;
DROP TABLE {prefix}objects;
