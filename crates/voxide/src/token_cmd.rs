//! `voxide token`: accounts and API tokens from the command line, for the first admin token
//! after it was lost and for scripted set-ups. Works on a data folder the server is not
//! running on (the server holds its lock); while it runs, use `/api/accounts` and
//! `/api/tokens` with an admin token.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use voxide_auth::{check_name, Role, ALL_COLLECTIONS};
use voxide_store::{Actor, AuditAction, AuditEntry, Store, StoreConfig};

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make an API token, creating its account when new; prints the token (only now) on
    /// standard output.
    Create {
        /// The store's data folder.
        #[arg(long, default_value = "voxide-data")]
        data_dir: PathBuf,
        /// The account (a user or service account name).
        #[arg(long)]
        name: String,
        /// Its role, for a new account: admin, uploader, clinician, researcher or auditor.
        #[arg(long)]
        role: Option<String>,
        /// Grant a collection (repeatable; `*` grants every study).
        #[arg(long = "collection")]
        collections: Vec<String>,
        /// Studies the account stores join this collection (new accounts; created if missing).
        #[arg(long)]
        upload_collection: Option<String>,
        /// A service account (a modality, gateway, script) rather than a person.
        #[arg(long)]
        service: bool,
    },
    /// List accounts and their tokens (ids and dates, never the tokens).
    List {
        #[arg(long, default_value = "voxide-data")]
        data_dir: PathBuf,
    },
    /// Revoke a token by id.
    Revoke {
        #[arg(long, default_value = "voxide-data")]
        data_dir: PathBuf,
        /// The token id (`voxide token list`; the 16 hex digits after `vx_`).
        id: String,
    },
}

async fn open(data_dir: PathBuf) -> Result<Store> {
    let shown = data_dir.display().to_string();
    Store::open(StoreConfig {
        data_dir,
        on_conflict: Default::default(),
        durability: Default::default(),
        audit: true,
    })
    .await
    .with_context(|| {
        format!("cannot open the store in {shown} (while the server runs, use its /api/accounts instead)")
    })
}

fn record(store: &Store, change: String) {
    let actor = Actor::local();
    let mut entry = AuditEntry::new(&actor.name, &actor.role, AuditAction::PermissionChange);
    entry.details.insert("change".into(), change);
    store.audit(entry);
}

pub fn token(command: TokenCommand) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(command))
}

async fn run(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create {
            data_dir,
            name,
            role,
            collections,
            upload_collection,
            service,
        } => {
            check_name("account", &name)?;
            for c in collections.iter().chain(&upload_collection) {
                if c != ALL_COLLECTIONS {
                    check_name("collection", c)?;
                }
            }
            let store = open(data_dir).await?;
            match store.account(&name).await? {
                Some(existing) => {
                    if let Some(role) = &role {
                        let role: Role = role.parse()?;
                        if role.as_str() != existing.role {
                            bail!(
                                "account '{name}' exists with role {}; change roles with POST /api/accounts/{name}",
                                existing.role
                            );
                        }
                    }
                }
                None => {
                    let Some(role) = role else {
                        bail!("account '{name}' is new: give its --role (admin, uploader, clinician, researcher, auditor)");
                    };
                    let role: Role = role.parse()?;
                    let kind = if service { "service" } else { "user" };
                    if let Some(c) = &upload_collection {
                        if !store.collections().await?.iter().any(|k| &k.name == c) {
                            store.create_collection(c, "").await?;
                            record(&store, format!("collection {c} created"));
                            eprintln!("created the collection '{c}'");
                        }
                    }
                    store
                        .create_account(&name, kind, role.as_str(), upload_collection.as_deref())
                        .await?;
                    record(&store, format!("account {name} created with role {role}"));
                }
            }
            for c in &collections {
                store.grant(&name, c).await?;
                record(&store, format!("collection {c} granted to {name}"));
            }
            let token = voxide_server::issue_token(&store, &name, "voxide token create").await?;
            record(&store, format!("token created for {name}"));
            store.ledger_flush().await?;
            store.ledger_checkpoint().await?;
            println!("{token}");
            eprintln!("token for '{name}': shown once, only its hash is kept");
        }
        TokenCommand::List { data_dir } => {
            let store = open(data_dir).await?;
            let tokens = store.tokens(None).await?;
            for a in store.accounts().await? {
                println!(
                    "{}\t{}\t{}{}\tcollections: {}",
                    a.name,
                    a.role,
                    a.kind,
                    if a.disabled { " (disabled)" } else { "" },
                    if a.collections.is_empty() {
                        "none".to_string()
                    } else {
                        a.collections.join(",")
                    }
                );
                for t in tokens.iter().filter(|t| t.account == a.name) {
                    println!(
                        "    token {}  created {}{}",
                        t.id,
                        t.created_at,
                        t.revoked_at
                            .as_ref()
                            .map_or(String::new(), |r| format!("  revoked {r}"))
                    );
                }
            }
        }
        TokenCommand::Revoke { data_dir, id } => {
            let store = open(data_dir).await?;
            if !store.revoke_token(&id).await? {
                bail!("no unrevoked token '{id}' (voxide token list shows them)");
            }
            record(&store, format!("token {id} revoked"));
            store.ledger_flush().await?;
            store.ledger_checkpoint().await?;
            eprintln!("token {id} revoked");
        }
    }
    Ok(())
}
