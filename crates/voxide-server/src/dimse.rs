//! DIMSE service class provider: C-ECHO, C-STORE, C-FIND, C-MOVE, C-GET (PS3.4 annexes A, B, C)
//! on `dicom-ul` associations, several at once.

mod message;
pub mod scu;

use std::sync::Arc;
use std::time::Duration;

use dicom_core::header::Header;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use dicom_ul::association::server::AsyncServerAssociation;
use dicom_ul::association::Association;
use dicom_ul::pdu::{
    PresentationContextNegotiated, PresentationContextResultReason, RequestorRoles,
};
use dicom_ul::{Pdu, ServerAssociationOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use voxide_auth::{Operation, Principal};
use voxide_store::{
    Actor, AuditAction, AuditEntry, AuditOutcome, IngestOutcome, Level, Query, Scope, StoreError,
    Value,
};

use crate::{AppState, ServerError};
use message::{command, receive_message, send_message, u16_of, Event, Message};

/// Transfer syntaxes accepted as proposed (dicom-ul takes the first the peer proposes among
/// these). Explicit VR Big Endian (retired) is left out on purpose: dcmtk proposes it first in a
/// context that also offers Implicit VR Little Endian, and accepting it would make the sender
/// convert little-endian files instead of sending them as they are.
const ACCEPTED_SYNTAXES: &[&str] = &[
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.5",
];

const PATIENT_ROOT_FIND: &str = "1.2.840.10008.5.1.4.1.2.1.1";
const PATIENT_ROOT_MOVE: &str = "1.2.840.10008.5.1.4.1.2.1.2";
const PATIENT_ROOT_GET: &str = "1.2.840.10008.5.1.4.1.2.1.3";
const STUDY_ROOT_FIND: &str = "1.2.840.10008.5.1.4.1.2.2.1";
const STUDY_ROOT_MOVE: &str = "1.2.840.10008.5.1.4.1.2.2.2";
const STUDY_ROOT_GET: &str = "1.2.840.10008.5.1.4.1.2.2.3";

/// Status codes (PS3.4 annexes B and C).
mod status {
    pub const SUCCESS: u16 = 0x0000;
    pub const PENDING: u16 = 0xFF00;
    pub const CANCEL: u16 = 0xFE00;
    pub const SOP_CLASS_NOT_SUPPORTED: u16 = 0x0122;
    pub const OUT_OF_RESOURCES: u16 = 0xA700;
    pub const MOVE_DESTINATION_UNKNOWN: u16 = 0xA801;
    pub const DATASET_MISMATCH: u16 = 0xA900;
    pub const CANNOT_UNDERSTAND: u16 = 0xC000;
    pub const SUB_OPERATIONS_FAILED: u16 = 0xB000;
    pub const UNABLE_TO_PROCESS: u16 = 0xC001;
    /// Refused: Not Authorized (PS3.7 C.5.1).
    pub const NOT_AUTHORIZED: u16 = 0x0124;
}

/// C-GET needs the requestor to take the SCP role for storage classes: accept the roles it
/// proposes (PS3.7 D.3.3.4).
#[derive(Debug, Clone, Copy)]
struct AcceptProposedRoles;

impl dicom_ul::association::server::Negotiation for AcceptProposedRoles {
    fn negotiate_roles(
        &self,
        _sop_class_uid: &str,
        scu_role: bool,
        scp_role: bool,
    ) -> Option<RequestorRoles> {
        Some(RequestorRoles {
            scu: scu_role,
            scp: scp_role,
        })
    }
}

/// Refuses associations called with another AE title (when configured to), and those of
/// peers that are not on the allow-list (`[[auth.dicom_peers]]`, by calling AE title and
/// address).
#[derive(Debug, Clone)]
struct PeerAccess {
    check_called: bool,
    state: Arc<AppState>,
}

tokio::task_local! {
    /// The address of the peer whose association is being negotiated: dicom-ul's access
    /// control sees AE titles only.
    static CONNECTING_FROM: Option<std::net::IpAddr>;
}

impl dicom_ul::association::server::AccessControl for PeerAccess {
    fn check_access(
        &self,
        this_ae_title: &str,
        calling_ae_title: &str,
        called_ae_title: &str,
        _user_identity: Option<&dicom_ul::pdu::UserIdentity>,
    ) -> Result<(), dicom_ul::pdu::AssociationRJServiceUserReason> {
        if self.check_called && this_ae_title.trim() != called_ae_title.trim() {
            tracing::warn!(calling = %calling_ae_title, called = %called_ae_title, "association refused: called AE title is not ours");
            return Err(dicom_ul::pdu::AssociationRJServiceUserReason::CalledAETitleNotRecognized);
        }
        let address = CONNECTING_FROM.try_with(|a| *a).ok().flatten();
        if self
            .state
            .auth
            .dicom_peer(calling_ae_title, address)
            .is_none()
        {
            tracing::warn!(calling = %calling_ae_title, address = ?address, "association refused: the peer is not in [[auth.dicom_peers]]");
            let mut entry = AuditEntry::new(
                &format!(
                    "dicom:{}@{}",
                    calling_ae_title.trim(),
                    address.map_or_else(|| "unknown".into(), |a| a.to_string())
                ),
                "none",
                AuditAction::LoginFailed,
            );
            entry.outcome = AuditOutcome::Failure;
            entry.reason = Some("calling AE title and address are not on the allow-list".into());
            self.state.store.audit(entry);
            return Err(dicom_ul::pdu::AssociationRJServiceUserReason::CallingAETitleNotRecognized);
        }
        Ok(())
    }
}

/// Accepts associations until `stop` turns true, then waits for those in progress.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ServerError> {
    let mut options = ServerAssociationOptions::new()
        .ae_title(state.config.ae_title.clone())
        .promiscuous(true)
        .max_pdu_length(state.config.max_pdu_length)
        .read_timeout(Duration::from_secs(300))
        .write_timeout(Duration::from_secs(300))
        .with_negotiation(AcceptProposedRoles);
    for ts in ACCEPTED_SYNTAXES {
        options = options.with_transfer_syntax(*ts);
    }
    let options = Arc::new(options.ae_access_control(PeerAccess {
        check_called: state.config.check_called_ae_title,
        state: state.clone(),
    }));
    let slots = Arc::new(Semaphore::new(state.config.max_associations));
    let mut tasks = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            a = listener.accept() => a,
        };
        let (socket, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "DICOM accept failed");
                continue;
            }
        };
        // Finished associations leave the set as we go.
        while tasks.try_join_next().is_some() {}
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = state.config.max_associations, "too many associations: refusing");
            drop(socket);
            continue;
        };
        let options = options.clone();
        let state = state.clone();
        tasks.spawn(async move {
            let _permit = permit;
            if let Err(e) = association(socket, &options, &state).await {
                tracing::warn!(%peer, error = %e, "association ended with an error");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

async fn association<N>(
    socket: TcpStream,
    options: &ServerAssociationOptions<
        'static,
        impl dicom_ul::association::server::AccessControl,
        N,
    >,
    state: &AppState,
) -> Result<(), ServerError>
where
    N: dicom_ul::association::server::Negotiation,
{
    // dicom-ul never disables Nagle; a response written after a request would wait ~40 ms
    // for the peer's delayed ACK.
    let _ = socket.set_nodelay(true);
    let peer_address = socket.peer_addr().ok().map(|a| a.ip());
    let mut assoc = CONNECTING_FROM
        .scope(peer_address, options.establish_async(socket))
        .await
        .map_err(|e| ServerError::Association(format!("negotiation failed: {e}")))?;
    state.metrics.associations.inc();
    let calling = assoc.peer_ae_title().to_string();
    let contexts: Vec<PresentationContextNegotiated> = assoc
        .presentation_contexts()
        .iter()
        .filter(|p| p.reason == PresentationContextResultReason::Acceptance)
        .cloned()
        .collect();
    tracing::info!(calling = %calling, contexts = contexts.len(), "association accepted");
    let Some(principal) = state.auth.dicom_peer(&calling, peer_address) else {
        // The access control let it in; the allow-list cannot have changed since.
        let _ = assoc.abort().await;
        return Err(ServerError::Association(format!(
            "{calling} is not an allowed peer"
        )));
    };
    let actor = Actor {
        name: principal.name.clone(),
        role: principal.role.as_str().into(),
    };
    let peer = Peer {
        actor,
        scope: crate::auth::scope_of(&principal),
        principal,
    };
    loop {
        match receive_message(&mut assoc).await {
            Ok(Event::Message(m)) => {
                let handled = PEER.scope(
                    peer.clone(),
                    dispatch(&mut assoc, &contexts, &calling, state, m),
                );
                if let Err(e) = handled.await {
                    tracing::warn!(calling = %calling, error = %e, "DIMSE failure: aborting");
                    let _ = assoc.abort().await;
                    return Err(e);
                }
            }
            Ok(Event::Release) => {
                let _ = assoc.send(&Pdu::ReleaseRP).await;
                tracing::info!(calling = %calling, "association released");
                return Ok(());
            }
            Ok(Event::Gone(why)) => {
                tracing::info!(calling = %calling, reason = %why, "association ended");
                return Ok(());
            }
            Err(e) => {
                let _ = assoc.abort().await;
                return Err(e);
            }
        }
    }
}

type Assoc = AsyncServerAssociation<TcpStream>;

/// The peer of an association: who it is, for the ledger, and what it may do and see.
#[derive(Debug, Clone)]
struct Peer {
    actor: Actor,
    principal: Principal,
    scope: Scope,
}

tokio::task_local! {
    /// The peer of the association this task serves.
    static PEER: Peer;
}

/// The DICOM peer being served (`AE@address`).
fn peer() -> Actor {
    PEER.try_with(|p| p.actor.clone())
        .unwrap_or_else(|_| Actor {
            name: "dicom:unknown".into(),
            role: "none".into(),
        })
}

/// The studies the peer being served sees.
fn peer_scope() -> Scope {
    PEER.try_with(|p| p.scope.clone())
        .unwrap_or_else(|_| Scope::nothing())
}

/// Why the peer being served may not do `operation`, if it may not.
fn refused(operation: Operation) -> Option<String> {
    let allowed = PEER
        .try_with(|p| p.principal.may(operation))
        .unwrap_or(false);
    (!allowed).then(|| {
        format!(
            "this peer ({}) may not {operation:?}: its [[auth.dicom_peers]] role does not allow it",
            peer().name
        )
    })
}

/// Records a query or retrieval by the current peer in the audit ledger.
fn audit(
    state: &AppState,
    action: AuditAction,
    command: &str,
    details: &[(&str, String)],
    failure: Option<String>,
) {
    let actor = peer();
    let mut entry = AuditEntry::new(&actor.name, &actor.role, action);
    entry.details.insert("command".into(), command.into());
    for (k, v) in details {
        entry.details.insert((*k).into(), v.clone());
    }
    if let Some(why) = failure {
        entry.outcome = AuditOutcome::Failure;
        entry.reason = Some(why);
    }
    state.store.audit(entry);
}

fn response(
    field: u16,
    request: &Message,
    status: u16,
    has_data: bool,
    extra: Vec<DataElement<InMemDicomObject>>,
) -> InMemDicomObject {
    let mut elements = Vec::new();
    if let Some(class) = request.text(tags::AFFECTED_SOP_CLASS_UID) {
        elements.push(message::ui(tags::AFFECTED_SOP_CLASS_UID, &class));
    }
    elements.push(message::us(tags::COMMAND_FIELD, field));
    elements.push(message::us(
        tags::MESSAGE_ID_BEING_RESPONDED_TO,
        request.message_id(),
    ));
    elements.push(message::us(
        tags::COMMAND_DATA_SET_TYPE,
        if has_data {
            0x0000
        } else {
            message::NO_DATA_SET
        },
    ));
    elements.push(message::us(tags::STATUS, status));
    elements.extend(extra);
    message::command_set(elements)
}

async fn dispatch(
    assoc: &mut Assoc,
    contexts: &[PresentationContextNegotiated],
    calling: &str,
    state: &AppState,
    m: Message,
) -> Result<(), ServerError> {
    let pc = m.presentation_context_id;
    let Some(context) = contexts.iter().find(|c| c.id == pc) else {
        return Err(ServerError::Dimse(format!(
            "message on presentation context {pc}, which was not accepted"
        )));
    };
    let abstract_syntax = context.abstract_syntax.trim_end_matches('\0').to_string();
    let ts = context.transfer_syntax.trim_end_matches('\0').to_string();
    let needs = match m.field() {
        command::C_STORE_RQ => Some(Operation::Store),
        command::C_FIND_RQ => Some(Operation::Search),
        command::C_MOVE_RQ | command::C_GET_RQ => Some(Operation::Retrieve),
        _ => None,
    };
    if let Some(why) = needs.and_then(refused) {
        tracing::warn!(%calling, reason = %why, "DIMSE request refused");
        let action = match needs {
            Some(Operation::Store) => AuditAction::InstanceStored,
            Some(Operation::Search) => AuditAction::Query,
            _ => AuditAction::Retrieve,
        };
        audit(
            state,
            action,
            &format!("0x{:04X}", m.field()),
            &[],
            Some(why.clone()),
        );
        let mut extra = vec![message::lo(tags::ERROR_COMMENT, &why)];
        if let Some(instance) = m.text(tags::AFFECTED_SOP_INSTANCE_UID) {
            extra.push(message::ui(tags::AFFECTED_SOP_INSTANCE_UID, &instance));
        }
        let rsp = response(m.field() | 0x8000, &m, status::NOT_AUTHORIZED, false, extra);
        return send_message(assoc, pc, &rsp, None).await;
    }
    match m.field() {
        command::C_ECHO_RQ => {
            let rsp = response(command::C_ECHO_RSP, &m, status::SUCCESS, false, vec![]);
            send_message(assoc, pc, &rsp, None).await
        }
        command::C_STORE_RQ => c_store(assoc, pc, &ts, calling, state, m).await,
        command::C_FIND_RQ => c_find(assoc, pc, &abstract_syntax, &ts, state, m).await,
        command::C_MOVE_RQ => c_move(assoc, pc, &abstract_syntax, &ts, state, m).await,
        command::C_GET_RQ => c_get(assoc, contexts, pc, &abstract_syntax, &ts, state, m).await,
        command::C_CANCEL_RQ => Ok(()), // nothing is pending between messages
        other => {
            tracing::warn!(
                field = format!("0x{other:04X}"),
                "unsupported DIMSE command"
            );
            let rsp = response(
                other | 0x8000,
                &m,
                0x0211, // Unrecognized operation
                false,
                vec![],
            );
            send_message(assoc, pc, &rsp, None).await
        }
    }
}

/// Builds the Part 10 file of a received data set: the meta group, then the bytes as they came.
fn part10(
    sop_class: &str,
    sop_instance: &str,
    ts: &str,
    dataset: &[u8],
) -> Result<Vec<u8>, String> {
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(sop_class)
        .media_storage_sop_instance_uid(sop_instance)
        .transfer_syntax(ts)
        .implementation_class_uid("1.2.826.0.1.3680043.10.1492.1")
        .implementation_version_name("VOXIDE_0_1")
        .build()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(dataset.len() + 512);
    out.extend_from_slice(&[0u8; 128]);
    out.extend_from_slice(b"DICM");
    meta.write(&mut out).map_err(|e| e.to_string())?;
    out.extend_from_slice(dataset);
    Ok(out)
}

async fn c_store(
    assoc: &mut Assoc,
    pc: u8,
    ts: &str,
    calling: &str,
    state: &AppState,
    m: Message,
) -> Result<(), ServerError> {
    let class = m.text(tags::AFFECTED_SOP_CLASS_UID).unwrap_or_default();
    let instance = m.text(tags::AFFECTED_SOP_INSTANCE_UID).unwrap_or_default();
    let data = m.data.as_deref().unwrap_or_default();
    let (code, comment) = match part10(&class, &instance, ts, data) {
        Err(e) => (status::CANNOT_UNDERSTAND, Some(e)),
        Ok(file) => match state.store.ingest_as(file, &peer()).await {
            Ok(ingested) => {
                let into = PEER
                    .try_with(|p| p.principal.upload_collection.clone())
                    .ok()
                    .flatten();
                if let Some(collection) = into {
                    if let Err(e) = state
                        .store
                        .add_to_collection(&collection, &ingested.study_instance_uid)
                        .await
                    {
                        tracing::error!(%collection, error = %e, "cannot add a received study to the peer's collection");
                    }
                }
                let outcome = match ingested.outcome {
                    IngestOutcome::Stored => "stored",
                    IngestOutcome::Duplicate => "duplicate",
                    IngestOutcome::Replaced => "replaced",
                };
                state.metrics.received("c-store", outcome);
                if ingested.sop_instance_uid != instance {
                    (
                        0xB006, // Warning: elements discarded / coerced
                        Some("Affected SOP Instance UID differs from the data set's".to_string()),
                    )
                } else {
                    (status::SUCCESS, None)
                }
            }
            Err(e) => {
                state.metrics.received("c-store", "failed");
                tracing::warn!(%calling, sop = %instance, error = %e, "C-STORE refused");
                let code = match &e {
                    StoreError::Invalid(_) => status::CANNOT_UNDERSTAND,
                    StoreError::Hierarchy(_) | StoreError::Conflict(_) => status::DATASET_MISMATCH,
                    StoreError::Refused(_) => status::NOT_AUTHORIZED,
                    StoreError::Io { .. } | StoreError::Objects(_) | StoreError::Database(_) => {
                        status::OUT_OF_RESOURCES
                    }
                    _ => status::UNABLE_TO_PROCESS,
                };
                (code, Some(e.to_string()))
            }
        },
    };
    let mut extra = vec![message::ui(tags::AFFECTED_SOP_INSTANCE_UID, &instance)];
    if let Some(c) = comment {
        extra.push(message::lo(tags::ERROR_COMMENT, &c));
    }
    let rsp = response(command::C_STORE_RSP, &m, code, false, extra);
    send_message(assoc, pc, &rsp, None).await
}

fn decode_identifier(ts: &str, data: Option<&[u8]>) -> Result<InMemDicomObject, String> {
    let syntax = TransferSyntaxRegistry
        .get(ts)
        .ok_or_else(|| format!("unknown transfer syntax {ts}"))?;
    InMemDicomObject::read_dataset_with_ts(data.ok_or("the request has no identifier")?, syntax)
        .map_err(|e| format!("malformed identifier: {e}"))
}

fn encode_identifier(ts: &str, obj: &InMemDicomObject) -> Result<Vec<u8>, ServerError> {
    let syntax = TransferSyntaxRegistry
        .get(ts)
        .ok_or_else(|| ServerError::Dimse(format!("unknown transfer syntax {ts}")))?;
    let mut out = Vec::new();
    obj.write_dataset_with_ts(&mut out, syntax)
        .map_err(|e| ServerError::Dimse(format!("cannot encode an identifier: {e}")))?;
    Ok(out)
}

fn level_of(identifier: &InMemDicomObject, patient_root: bool) -> Result<Level, String> {
    let level = voxide_dicom::str_of(identifier, tags::QUERY_RETRIEVE_LEVEL)
        .ok_or("the identifier has no Query/Retrieve Level (0008,0052)")?;
    match level.as_str() {
        "PATIENT" if patient_root => Ok(Level::Patient),
        "PATIENT" => Err("PATIENT level needs the Patient Root information model".into()),
        "STUDY" => Ok(Level::Study),
        "SERIES" => Ok(Level::Series),
        "IMAGE" => Ok(Level::Instance),
        other => Err(format!("unknown Query/Retrieve Level '{other}'")),
    }
}

/// The identifier's matching keys the index knows at `level` (other keys match universally).
fn matching_keys(identifier: &InMemDicomObject, level: Level) -> Vec<(u32, String)> {
    let known: Vec<u32> = voxide_store::query::indexed_attributes(level)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    identifier
        .iter()
        .filter_map(|e| {
            let t = (u32::from(e.tag().0) << 16) | u32::from(e.tag().1);
            if !known.contains(&t) || e.vr() == VR::SQ {
                return None;
            }
            let v = e.to_str().ok()?.trim_end_matches(['\0', ' ']).to_string();
            (!v.is_empty()).then_some((t, v))
        })
        .collect()
}

async fn c_find(
    assoc: &mut Assoc,
    pc: u8,
    abstract_syntax: &str,
    ts: &str,
    state: &AppState,
    m: Message,
) -> Result<(), ServerError> {
    let patient_root = match abstract_syntax {
        PATIENT_ROOT_FIND => true,
        STUDY_ROOT_FIND => false,
        _ => {
            let rsp = response(
                command::C_FIND_RSP,
                &m,
                status::SOP_CLASS_NOT_SUPPORTED,
                false,
                vec![],
            );
            return send_message(assoc, pc, &rsp, None).await;
        }
    };
    let fail = |code: u16, why: String| {
        response(
            command::C_FIND_RSP,
            &m,
            code,
            false,
            vec![message::lo(tags::ERROR_COMMENT, &why)],
        )
    };
    let identifier = match decode_identifier(ts, m.data.as_deref()) {
        Ok(i) => i,
        Err(e) => return send_message(assoc, pc, &fail(status::DATASET_MISMATCH, e), None).await,
    };
    let level = match level_of(&identifier, patient_root) {
        Ok(l) => l,
        Err(e) => return send_message(assoc, pc, &fail(status::DATASET_MISMATCH, e), None).await,
    };
    let query = Query {
        level,
        keys: matching_keys(&identifier, level),
        limit: None,
        offset: 0,
        scope: peer_scope(),
    };
    let records = match state.store.query(&query).await {
        Ok(r) => r,
        Err(StoreError::Query(e)) => {
            return send_message(assoc, pc, &fail(status::UNABLE_TO_PROCESS, e), None).await
        }
        Err(e) => {
            return send_message(
                assoc,
                pc,
                &fail(status::OUT_OF_RESOURCES, e.to_string()),
                None,
            )
            .await
        }
    };
    tracing::debug!(?level, matches = records.len(), "C-FIND");
    audit(
        state,
        AuditAction::Query,
        "C-FIND",
        &[
            ("level", format!("{level:?}")),
            ("matches", records.len().to_string()),
        ],
        None,
    );
    for (sent, record) in records.iter().enumerate() {
        // Deferring now and then lets the runtime poll the socket, so a C-CANCEL that arrives
        // while responses go out without blocking is seen promptly.
        if sent % 16 == 15 {
            tokio::task::yield_now().await;
        }
        // The requested return keys, filled from the index; keys it does not keep stay empty.
        let mut out = InMemDicomObject::new_empty();
        for element in identifier.iter() {
            let tag = element.tag();
            let t = (u32::from(tag.0) << 16) | u32::from(tag.1);
            let found = record.attributes.iter().find(|a| a.tag == t);
            let value = match found.and_then(|a| a.value.as_ref()) {
                Some(Value::Text(s)) => PrimitiveValue::from(s.as_str()),
                Some(Value::Int(n)) if element.vr() == VR::US => PrimitiveValue::from(*n as u16),
                Some(Value::Int(n)) => PrimitiveValue::from(n.to_string()),
                None => PrimitiveValue::Empty,
            };
            if element.vr() == VR::SQ {
                out.put(DataElement::new(
                    tag,
                    VR::SQ,
                    dicom_core::value::DataSetSequence::empty(),
                ));
                continue;
            }
            out.put(DataElement::new(tag, element.vr(), value));
        }
        out.put(DataElement::new(
            tags::QUERY_RETRIEVE_LEVEL,
            VR::CS,
            PrimitiveValue::from(match level {
                Level::Patient => "PATIENT",
                Level::Study => "STUDY",
                Level::Series => "SERIES",
                Level::Instance => "IMAGE",
            }),
        ));
        out.put(DataElement::new(
            tags::RETRIEVE_AE_TITLE,
            VR::AE,
            PrimitiveValue::from(state.config.ae_title.as_str()),
        ));
        // UIDs of the levels above are always returned (unique keys).
        for t in unique_keys(level) {
            if let Some(v) = record.text(t) {
                out.put(DataElement::new(to_tag(t), VR::UI, PrimitiveValue::from(v)));
            }
        }
        let data = encode_identifier(ts, &out)?;
        let rsp = response(command::C_FIND_RSP, &m, status::PENDING, true, vec![]);
        send_message(assoc, pc, &rsp, Some(&data)).await?;
        if cancel_requested(assoc)? {
            tracing::info!("C-FIND cancelled by the peer");
            let rsp = response(command::C_FIND_RSP, &m, status::CANCEL, false, vec![]);
            return send_message(assoc, pc, &rsp, None).await;
        }
    }
    let rsp = response(command::C_FIND_RSP, &m, status::SUCCESS, false, vec![]);
    send_message(assoc, pc, &rsp, None).await
}

/// Whether the peer has sent C-CANCEL-RQ, checked without waiting between two C-FIND responses.
/// dicom-ul's `receive` keeps what it has read when dropped, so polling it once is safe.
fn cancel_requested(assoc: &mut Assoc) -> Result<bool, ServerError> {
    use futures::FutureExt;
    match assoc.receive().now_or_never() {
        None => Ok(false),
        Some(Ok(Pdu::PData { data })) => {
            for pdv in &data {
                if pdv.value_type == dicom_ul::pdu::PDataValueType::Command && pdv.is_last {
                    let cmd = message::decode_command(&pdv.data)?;
                    if u16_of(&cmd, tags::COMMAND_FIELD) == Some(command::C_CANCEL_RQ) {
                        return Ok(true);
                    }
                }
            }
            Err(ServerError::Dimse(
                "a message other than C-CANCEL arrived during a C-FIND".into(),
            ))
        }
        Some(Ok(other)) => Err(ServerError::Dimse(format!(
            "{} during a C-FIND",
            other.short_description()
        ))),
        Some(Err(e)) => Err(ServerError::Association(format!("during a C-FIND: {e}"))),
    }
}

fn to_tag(t: u32) -> Tag {
    Tag((t >> 16) as u16, (t & 0xFFFF) as u16)
}

fn unique_keys(level: Level) -> Vec<u32> {
    use voxide_store::query::tag;
    match level {
        Level::Patient => vec![],
        Level::Study => vec![tag::STUDY_INSTANCE_UID],
        Level::Series => vec![tag::STUDY_INSTANCE_UID, tag::SERIES_INSTANCE_UID],
        Level::Instance => vec![
            tag::STUDY_INSTANCE_UID,
            tag::SERIES_INSTANCE_UID,
            tag::SOP_INSTANCE_UID,
        ],
    }
}

/// The instances a C-MOVE or C-GET identifier names.
async fn instances_to_retrieve(
    state: &AppState,
    identifier: &InMemDicomObject,
    patient_root: bool,
) -> Result<Vec<voxide_store::InstanceRef>, String> {
    use voxide_store::query::tag;
    let level = level_of(identifier, patient_root)?;
    let keys = matching_keys(identifier, level);
    // Match at the level asked, then expand each entity to its instances.
    let records = state
        .store
        .query(&Query {
            level,
            keys,
            limit: None,
            offset: 0,
            scope: peer_scope(),
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for r in records {
        if level == Level::Patient {
            let id = r.text(tag::PATIENT_ID).unwrap_or_default().to_string();
            let studies = state
                .store
                .query(&Query {
                    level: Level::Study,
                    keys: vec![(tag::PATIENT_ID, id)],
                    limit: None,
                    offset: 0,
                    scope: peer_scope(),
                })
                .await
                .map_err(|e| e.to_string())?;
            for s in studies {
                if let Some(study) = s.text(tag::STUDY_INSTANCE_UID) {
                    out.extend(
                        state
                            .store
                            .instances(study, None, None)
                            .await
                            .map_err(|e| e.to_string())?,
                    );
                }
            }
            continue;
        }
        let Some(study) = r.text(tag::STUDY_INSTANCE_UID) else {
            continue;
        };
        let found = state
            .store
            .instances(
                study,
                r.text(tag::SERIES_INSTANCE_UID),
                r.text(tag::SOP_INSTANCE_UID),
            )
            .await
            .map_err(|e| e.to_string())?;
        out.extend(found);
    }
    Ok(out)
}

struct SubOperations {
    remaining: u16,
    completed: u16,
    failed: u16,
    warning: u16,
}

impl SubOperations {
    fn new(count: usize) -> Self {
        Self {
            remaining: count.min(usize::from(u16::MAX)) as u16,
            completed: 0,
            failed: 0,
            warning: 0,
        }
    }
    fn elements(&self) -> Vec<DataElement<InMemDicomObject>> {
        vec![
            message::us(tags::NUMBER_OF_REMAINING_SUBOPERATIONS, self.remaining),
            message::us(tags::NUMBER_OF_COMPLETED_SUBOPERATIONS, self.completed),
            message::us(tags::NUMBER_OF_FAILED_SUBOPERATIONS, self.failed),
            message::us(tags::NUMBER_OF_WARNING_SUBOPERATIONS, self.warning),
        ]
    }
    fn count(&mut self, status: u16) {
        self.remaining = self.remaining.saturating_sub(1);
        if status == 0 {
            self.completed += 1;
        } else if status & 0xF000 == 0xB000 {
            self.warning += 1;
        } else {
            self.failed += 1;
        }
    }
    fn final_status(&self) -> u16 {
        if self.failed > 0 || self.warning > 0 {
            status::SUB_OPERATIONS_FAILED
        } else {
            status::SUCCESS
        }
    }
}

/// The common start of C-MOVE and C-GET: the information model from the abstract syntax, the
/// identifier, and the instances it names. `None` once a failure response has been sent.
#[allow(clippy::too_many_arguments)]
async fn retrieval_request(
    assoc: &mut Assoc,
    pc: u8,
    roots: (&str, &str),
    abstract_syntax: &str,
    ts: &str,
    state: &AppState,
    m: &Message,
    field: u16,
) -> Result<Option<Vec<voxide_store::InstanceRef>>, ServerError> {
    let fail = |code: u16, why: &str| {
        let extra = if why.is_empty() {
            vec![]
        } else {
            vec![message::lo(tags::ERROR_COMMENT, why)]
        };
        response(field, m, code, false, extra)
    };
    let patient_root = if abstract_syntax == roots.0 {
        true
    } else if abstract_syntax == roots.1 {
        false
    } else {
        send_message(assoc, pc, &fail(status::SOP_CLASS_NOT_SUPPORTED, ""), None).await?;
        return Ok(None);
    };
    let identifier = match decode_identifier(ts, m.data.as_deref()) {
        Ok(i) => i,
        Err(e) => {
            send_message(assoc, pc, &fail(status::DATASET_MISMATCH, &e), None).await?;
            return Ok(None);
        }
    };
    let (action, command) = if field == command::C_MOVE_RSP {
        (AuditAction::Export, "C-MOVE")
    } else {
        (AuditAction::Retrieve, "C-GET")
    };
    let destination = m.text(tags::MOVE_DESTINATION).map(|d| d.trim().to_string());
    match instances_to_retrieve(state, &identifier, patient_root).await {
        Ok(found) => {
            let mut studies: Vec<&str> = found
                .iter()
                .map(|r| r.study_instance_uid.as_str())
                .collect();
            studies.sort_unstable();
            studies.dedup();
            let mut details = vec![
                ("instances", found.len().to_string()),
                ("studies", studies.join(",")),
            ];
            details.extend(destination.map(|d| ("destination", d)));
            audit(state, action, command, &details, None);
            Ok(Some(found))
        }
        Err(e) => {
            audit(state, action, command, &[], Some(e.clone()));
            send_message(assoc, pc, &fail(status::UNABLE_TO_PROCESS, &e), None).await?;
            Ok(None)
        }
    }
}

async fn c_move(
    assoc: &mut Assoc,
    pc: u8,
    abstract_syntax: &str,
    ts: &str,
    state: &AppState,
    m: Message,
) -> Result<(), ServerError> {
    let destination = m.text(tags::MOVE_DESTINATION).unwrap_or_default();
    let Some(remote) = state.config.remote_aes.get(destination.trim()) else {
        let why = format!("unknown move destination '{destination}': add it under [remote_aes] in the configuration");
        tracing::warn!("{why}");
        let rsp = response(
            command::C_MOVE_RSP,
            &m,
            status::MOVE_DESTINATION_UNKNOWN,
            false,
            vec![message::lo(tags::ERROR_COMMENT, &why)],
        );
        return send_message(assoc, pc, &rsp, None).await;
    };
    let target = scu::Target {
        ae_title: destination.trim().to_string(),
        host: remote.host.clone(),
        port: remote.port,
    };
    let roots = (PATIENT_ROOT_MOVE, STUDY_ROOT_MOVE);
    let field = command::C_MOVE_RSP;
    let Some(found) =
        retrieval_request(assoc, pc, roots, abstract_syntax, ts, state, &m, field).await?
    else {
        return Ok(());
    };
    let mut ops = SubOperations::new(found.len());
    if !found.is_empty() {
        let classes = found
            .iter()
            .map(|r| (r.sop_class_uid.clone(), r.transfer_syntax.clone()))
            .collect();
        let opened = scu::Sender::open_for(&state.config.ae_title, &target, classes).await;
        let mut sender = match opened {
            Ok(s) => s,
            Err(e) => {
                let why = format!("cannot reach {target}: {e}");
                let rsp = response(
                    field,
                    &m,
                    status::OUT_OF_RESOURCES,
                    false,
                    vec![message::lo(tags::ERROR_COMMENT, &why)],
                );
                return send_message(assoc, pc, &rsp, None).await;
            }
        };
        // One file in memory at a time, however large the study.
        for r in &found {
            let o = scu::Outgoing {
                sop_class_uid: r.sop_class_uid.clone(),
                sop_instance_uid: r.sop_instance_uid.clone(),
                transfer_syntax: r.transfer_syntax.clone(),
                file: state.store.read(r).await?,
            };
            let result = sender.store(&o).await;
            let code = match &result {
                Ok(r) => r.status,
                Err(_) => 0xA700,
            };
            ops.count(code);
            if ops.remaining > 0 {
                let rsp = response(
                    command::C_MOVE_RSP,
                    &m,
                    status::PENDING,
                    false,
                    ops.elements(),
                );
                send_message(assoc, pc, &rsp, None).await?;
            }
            if result.is_err() {
                break;
            }
        }
        let _ = sender.release().await;
    }
    let mut extra = ops.elements();
    extra.remove(0); // no Remaining count in the final response
    let rsp = response(command::C_MOVE_RSP, &m, ops.final_status(), false, extra);
    send_message(assoc, pc, &rsp, None).await
}

async fn c_get(
    assoc: &mut Assoc,
    contexts: &[PresentationContextNegotiated],
    pc: u8,
    abstract_syntax: &str,
    ts: &str,
    state: &AppState,
    m: Message,
) -> Result<(), ServerError> {
    let roots = (PATIENT_ROOT_GET, STUDY_ROOT_GET);
    let field = command::C_GET_RSP;
    let Some(found) =
        retrieval_request(assoc, pc, roots, abstract_syntax, ts, state, &m, field).await?
    else {
        return Ok(());
    };
    let mut ops = SubOperations::new(found.len());
    let mut next_id: u16 = 1;
    for r in &found {
        // A storage context for this class, preferring the stored transfer syntax.
        let candidates: Vec<&PresentationContextNegotiated> = contexts
            .iter()
            .filter(|c| c.abstract_syntax.trim_end_matches('\0') == r.sop_class_uid)
            .collect();
        let chosen = candidates
            .iter()
            .find(|c| c.transfer_syntax.trim_end_matches('\0') == r.transfer_syntax)
            .or_else(|| candidates.first());
        let code = match chosen {
            None => status::SOP_CLASS_NOT_SUPPORTED,
            Some(c) => {
                let file = state.store.read(r).await?;
                let cts = c.transfer_syntax.trim_end_matches('\0').to_string();
                let data = if cts == r.transfer_syntax {
                    message::dataset_of_part10(&file)
                        .map(<[u8]>::to_vec)
                        .ok_or("not Part 10".to_string())
                } else {
                    let f = file.clone();
                    tokio::task::spawn_blocking(move || scu::convert(&f, &cts))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r)
                };
                match data {
                    Err(e) => {
                        tracing::warn!(sop = %r.sop_instance_uid, error = %e, "C-GET sub-operation: cannot convert");
                        status::DATASET_MISMATCH
                    }
                    Ok(data) => {
                        let rq = message::command_set(vec![
                            message::ui(tags::AFFECTED_SOP_CLASS_UID, &r.sop_class_uid),
                            message::us(tags::COMMAND_FIELD, command::C_STORE_RQ),
                            message::us(tags::MESSAGE_ID, next_id),
                            message::us(tags::PRIORITY, 0),
                            message::us(tags::COMMAND_DATA_SET_TYPE, 0x0000),
                            message::ui(tags::AFFECTED_SOP_INSTANCE_UID, &r.sop_instance_uid),
                        ]);
                        next_id = next_id.wrapping_add(1).max(1);
                        send_message(assoc, c.id, &rq, Some(&data)).await?;
                        match receive_message(assoc).await? {
                            Event::Message(rsp) if rsp.field() == command::C_STORE_RSP => {
                                u16_of(&rsp.command, tags::STATUS).unwrap_or(0xFFFF)
                            }
                            Event::Message(other) if other.field() == command::C_CANCEL_RQ => {
                                let rsp =
                                    response(command::C_GET_RSP, &m, 0xFE00, false, ops.elements());
                                return send_message(assoc, pc, &rsp, None).await;
                            }
                            Event::Message(other) => {
                                return Err(ServerError::Dimse(format!(
                                    "expected C-STORE-RSP during C-GET, got 0x{:04X}",
                                    other.field()
                                )))
                            }
                            Event::Release | Event::Gone(_) => {
                                return Err(ServerError::Dimse("the peer left during C-GET".into()))
                            }
                        }
                    }
                }
            }
        };
        ops.count(code);
        if ops.remaining > 0 {
            let rsp = response(
                command::C_GET_RSP,
                &m,
                status::PENDING,
                false,
                ops.elements(),
            );
            send_message(assoc, pc, &rsp, None).await?;
        }
    }
    let mut extra = ops.elements();
    extra.remove(0);
    let rsp = response(command::C_GET_RSP, &m, ops.final_status(), false, extra);
    send_message(assoc, pc, &rsp, None).await
}
