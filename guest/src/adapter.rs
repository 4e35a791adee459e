//! The thin WIT adapter: converts between the generated bindings and the core.
//! It owns the table of loaded policies, since a component instance is the
//! only place a parsed policy can live between calls.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::classify::{Failure, FailureClass};
use crate::document::Format;
use crate::error::{ErrorCode, PolicyError};
use crate::policy::Policy;

wit_bindgen::generate!({
    world: "backstop",
    path: "../wit",
});

use exports::backstop::policy::classifier::{
    self as wit_classifier, Classification as WitClassification, Failure as WitFailure,
    PolicyHandle,
};
use exports::backstop::policy::types::{
    ErrorCode as WitErrorCode, FailureClass as WitFailureClass, Location as WitLocation,
    PolicyError as WitPolicyError, PolicyFormat,
};

/// Most policies one instance holds at once; a host leaking handles gets an
/// error instead of exhausting memory.
const MAX_LOADED_POLICIES: usize = 4096;

#[derive(Default)]
struct Loaded {
    policies: HashMap<PolicyHandle, Policy>,
    next: PolicyHandle,
}

thread_local! {
    static LOADED: RefCell<Loaded> = RefCell::new(Loaded::default());
}

struct Component;

impl wit_classifier::Guest for Component {
    fn load_policy(
        source: String,
        format: PolicyFormat,
    ) -> Result<PolicyHandle, Vec<WitPolicyError>> {
        let format = match format {
            PolicyFormat::Toml => Format::Toml,
            PolicyFormat::Json => Format::Json,
        };
        let policy = Policy::load(&source, format)
            .map_err(|errors| errors.into_iter().map(to_wit_error).collect::<Vec<_>>())?;
        LOADED.with_borrow_mut(|loaded| {
            if loaded.policies.len() >= MAX_LOADED_POLICIES {
                return Err(vec![to_wit_error(PolicyError::new(
                    ErrorCode::TooLarge,
                    "",
                    format!("{MAX_LOADED_POLICIES} policies are loaded; drop unused ones first"),
                ))]);
            }
            // Handles start at 1 and skip live ones after wrapping, so 0 is never valid.
            loop {
                loaded.next = loaded.next.wrapping_add(1);
                if loaded.next != 0 && !loaded.policies.contains_key(&loaded.next) {
                    break;
                }
            }
            let handle = loaded.next;
            loaded.policies.insert(handle, policy);
            Ok(handle)
        })
    }

    fn drop_policy(policy: PolicyHandle) {
        LOADED.with_borrow_mut(|loaded| loaded.policies.remove(&policy));
    }

    fn classify(
        policy: PolicyHandle,
        failure: WitFailure,
    ) -> Result<WitClassification, WitPolicyError> {
        let failure = Failure {
            http_status: failure.http_status,
            grpc_code: failure.grpc_code,
            exit_code: failure.exit_code,
            signal: failure.signal,
            error_types: failure.error_types,
            error_code: failure.error_code,
            message: failure.message,
        };
        LOADED.with_borrow(|loaded| {
            let policy = loaded
                .policies
                .get(&policy)
                .ok_or_else(|| unknown_policy(policy))?;
            let verdict = policy.classify(&failure).map_err(to_wit_error)?;
            Ok(WitClassification {
                class: match verdict.class {
                    FailureClass::Transient => WitFailureClass::Transient,
                    FailureClass::Permanent => WitFailureClass::Permanent,
                    FailureClass::Unknown => WitFailureClass::Unknown,
                },
                rule: verdict.rule,
                reason: verdict.reason,
            })
        })
    }
}

fn unknown_policy(handle: PolicyHandle) -> WitPolicyError {
    to_wit_error(PolicyError::new(
        ErrorCode::UnknownPolicy,
        "",
        format!("policy handle {handle} is not loaded"),
    ))
}

fn to_wit_error(error: PolicyError) -> WitPolicyError {
    WitPolicyError {
        code: match error.code {
            ErrorCode::Syntax => WitErrorCode::Syntax,
            ErrorCode::UnknownField => WitErrorCode::UnknownField,
            ErrorCode::MissingField => WitErrorCode::MissingField,
            ErrorCode::WrongType => WitErrorCode::WrongType,
            ErrorCode::InvalidValue => WitErrorCode::InvalidValue,
            ErrorCode::OutOfRange => WitErrorCode::OutOfRange,
            ErrorCode::DuplicateId => WitErrorCode::DuplicateId,
            ErrorCode::InvalidRegex => WitErrorCode::InvalidRegex,
            ErrorCode::TooLarge => WitErrorCode::TooLarge,
            ErrorCode::UnknownPolicy => WitErrorCode::UnknownPolicy,
            ErrorCode::InvalidFailure => WitErrorCode::InvalidFailure,
        },
        message: error.message,
        path: error.path,
        location: error.location.map(|l| WitLocation {
            line: l.line,
            column: l.column,
        }),
    }
}

export!(Component);
