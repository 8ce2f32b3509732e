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
    COALESCE((data::jsonb->>'status')::bigint, 1),
    COALESCE(data::jsonb->>'password', ''),
    COALESCE((data::jsonb->'public_keys')::text, '[]'),
    COALESCE(data::jsonb->>'home_dir', ''),
    COALESCE((data::jsonb->>'uid')::bigint, 0),
    COALESCE((data::jsonb->>'gid')::bigint, 0),
    COALESCE((data::jsonb->>'max_sessions')::bigint, 0),
    COALESCE((data::jsonb->>'quota_size')::bigint, 0),
    COALESCE((data::jsonb->>'quota_files')::bigint, 0),
    COALESCE((data::jsonb->'permissions')::text, '{}'),
    c0,
    c1,
    c2,
    COALESCE((data::jsonb->>'upload_bandwidth')::bigint, 0),
    COALESCE((data::jsonb->>'download_bandwidth')::bigint, 0),
    COALESCE((data::jsonb->>'expiration_date')::bigint, 0),
    c5,
    COALESCE((data::jsonb->'filters')::text, '{}'),
    COALESCE((data::jsonb->'filesystem')::text, '{}'),
    COALESCE(data::jsonb->>'additional_info', ''),
    COALESCE(data::jsonb->>'description', ''),
    COALESCE(data::jsonb->>'email', ''),
    COALESCE((data::jsonb->>'created_at')::bigint, 0),
    COALESCE((data::jsonb->>'updated_at')::bigint, 0),
    ((data::jsonb - ARRAY['username', 'status', 'uid', 'gid', 'max_sessions', 'quota_size', 'quota_files', 'upload_bandwidth', 'download_bandwidth', 'expiration_date', 'created_at', 'updated_at', 'password', 'home_dir', 'additional_info', 'description', 'email', 'public_keys', 'permissions', 'filters', 'filesystem'])
        || jsonb_build_object('used_upload_data_transfer', c3, 'used_download_data_transfer', c4, 'first_upload', c6, 'first_download', c7))::text
FROM {prefix}objects WHERE kind = 1;
SELECT setval(pg_get_serial_sequence('{prefix}users', 'id'),
    (SELECT COALESCE(MAX(id), 0) + 1 FROM {prefix}users), false);
DROP TABLE {prefix}object_refs;
DROP TABLE {prefix}objects;
