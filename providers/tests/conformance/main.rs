//! One conformance suite, run against every data provider engine (see `targets`).

mod dumps;
mod migrations;
mod objects;
mod targets;
mod users;

macro_rules! cases {
    ($engine:ident: $($case:ident in $module:ident),* $(,)?) => {
        mod $engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(t) = super::targets::$engine(stringify!($case)).await {
                        super::$module::$case(t).await;
                    }
                }
            )*
        }
    };
}

macro_rules! conformance {
    ($engine:ident) => {
        cases!($engine:
            crud_keeps_every_field in users,
            invalid_input_changes_nothing in users,
            pagination_is_ordered_by_username in users,
            concurrent_writers_and_starts in users,
            naming_rules_apply_to_names_references_and_lookups in users,
            every_kind_round_trips in objects,
            references_are_enforced in objects,
            counters_add_up_under_concurrency in objects,
            group_settings_apply_at_login in objects,
            secrets_are_sealed_at_rest in objects,
            dump_round_trip in dumps,
            sftpgo_dump_loads_unchanged in dumps,
            schema_1_is_upgraded in migrations,
            revert_and_upgrade_again in migrations,
        );
    };
}

conformance!(sqlite);
conformance!(memory);
conformance!(redb);
conformance!(postgres);
conformance!(mariadb);
