//! Fault switches: each makes the reference XMPP server break exactly one rule, to prove a check can fail.

use std::fmt;
use std::str::FromStr;

/// One deliberate deviation of the reference XMPP-over-WebSocket server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum XmppFault {
    /// Answers `<open/>` with a legacy `<stream:stream/>` header (RFC7395-3.4-2, RFC7395-3.3.2-1).
    StreamHeader,
    /// Sends the response `<open/>` and `<stream:features/>` in one WebSocket message (RFC7395-3.3.3-4).
    TwoElementsPerMessage,
    /// Does not echo initial presence back to its sender (RFC6121-4.2.2-2).
    PresenceNotReflected,
    /// Drops the WebSocket instead of answering `<close/>` with `<close/>` (RFC 7395 Section 3.6, RFC6120-4.4-1).
    NoCloseReply,
    /// Stamps the sender's bare JID instead of its full JID on routed messages (RFC6120-8.1.2.1-1).
    WrongFromOnMessage,
    /// Sends no reply to an iq get/set it does not understand (RFC6120-8.4-12, RFC6120-8.2.3-4).
    IqUnknownIgnored,
    /// Reuses the first stream id after the SASL restart (RFC6120-6.4.6-5).
    ReuseStreamId,
    /// Omits the `id` attribute from the response `<open/>` (RFC6120-4.7.3-4).
    OpenWithoutId,
    /// Advertises STARTTLS in the stream features (RFC7395-3.9-2).
    AdvertiseStarttls,
    /// Sends a stream error without first sending the response `<open/>` (RFC7395-3.5-2).
    ErrorWithoutOpen,
    /// Sends a wrong server signature `v=` in the SCRAM server-final-message (RFC 5802 Section 5.1).
    ScramBadServerSignature,
    /// Adds `xml:lang='en'` to the presence it reflects to its sender: harmless, asserted by no
    /// case, seen only by the snapshot.
    ExtraPresenceAttribute,
    /// Offers `<bind/>` in the features before authentication (RFC6120-7.4-2).
    BindBeforeAuth,
    /// Answers the client's `<close/>` with a `<close/>` whose see-other-uri is no endpoint URI (RFC7395-3.6.1-1).
    BadSeeOtherUri,
    /// Opens a stream for any `to` domain instead of answering `<host-unknown/>` (RFC 6120 4.9.3.6).
    AcceptUnknownHost,
    /// Drops a stanza sent before resource binding instead of closing with `<not-authorized/>` (RFC6120-7.1-5).
    StanzaBeforeBindIgnored,
    /// Leaves 'to' off its response header although the client's had 'from' (RFC6120-4.7.2-2).
    OpenWithoutTo,
    /// Accepts any WebSocket upgrade and selects the first subprotocol offered, `xmpp` or not (RFC7395-3.1-2).
    EchoSubprotocol,
    /// After resource binding, the server process aborts on an `<iq>` whose start tag carries
    /// its 'id' attribute twice (a crash for the fuzzer to find).
    CrashXmppAfterLogin,
    /// Answers an iq get/set with an unknown payload with a result (RFC6120-10.3.3-3).
    IqUnknownAnsweredResult,
    /// Delivers bare-JID messages to resources with negative priority too (RFC6121-8.5.2.1.1-12).
    NegativePriorityDelivered,
    /// Delivers a message of type error sent to a bare JID (RFC6121-8.5.2.1.1-11).
    ErrorMessageDelivered,
    /// Delivers presence to a bare JID to one available resource only (RFC6121-8.5.2.1.2-1).
    BarePresenceOneResource,
    /// Answers a roster set without pushing the item to the interested resources (RFC6121-2.3.2-3).
    NoRosterPush,
    /// Approves every inbound subscription request on the contact's behalf (RFC6121-3.1.3-5).
    AutoApproveSubscription,
    /// Sends no unavailable presence to subscribers when a connection drops (RFC6121-4.5.2-6).
    NoUnavailableOnDrop,
    /// Stamps the sender's full JID on subscription presence (RFC6121-3-1).
    SubscriptionFullFrom,
    /// Does not answer the implicit probe of initial presence with contacts' presence (RFC6121-4.3.2-9).
    NoProbeAnswer,
    /// Answers a roster get on an empty roster with an error (RFC6121-2.1.4-1).
    EmptyRosterError,
    /// Sends MUC self-presence without status code 110 (XEP-0045-7.2.3-3).
    MucNoStatus110,
    /// Does not reflect a groupchat message to its sender (XEP-0045-7.4-1).
    MucNotReflected,
    /// Sends MUC self-presence before the presence of the occupants already in the room (XEP-0045-7.2.3-1).
    MucSelfPresenceFirst,
    /// Drops a chat message to an account with no connected resource: neither stored nor bounced (RFC6120-10.5.3.2-2).
    OfflineMessageDropped,
    /// Counts stream management elements (`<r/>`) as handled stanzas in `<a h/>` (XEP-0198-4-1).
    SmCountsNonzas,
    /// Enables stream management before resource binding instead of `<failed/>` (XEP-0198-3-2).
    SmEnableBeforeBind,
    /// Answers `<resume/>` with `h='0'` instead of the old stream's count (XEP-0198-5-1).
    SmResumedCountReset,
    /// Loses the stanzas held for a detached session when it is resumed (XEP-0198-5-2).
    SmResumeLosesHeld,
    /// Refuses an unknown `<resume/>` with a bare `<failed/>`, no `<item-not-found/>` (XEP-0198-5-3).
    SmFailedWithoutCondition,
    /// Answers a registration set for a username already taken with a result instead of `<conflict/>` (XEP-0077-3.1-3).
    RegisterConflictAccepted,
    /// Answers `<remove/>` with a result but keeps the account, which still logs in (XEP-0077-3.2-1).
    RegisterRemoveKept,
}

/// Error for an unknown fault name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown XMPP fault `{0}` (known: {known})", known = XmppFault::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", "))]
pub struct UnknownFault(pub String);

impl XmppFault {
    /// Every fault, in a stable order.
    pub const ALL: &'static [XmppFault] = &[
        XmppFault::StreamHeader,
        XmppFault::TwoElementsPerMessage,
        XmppFault::PresenceNotReflected,
        XmppFault::NoCloseReply,
        XmppFault::WrongFromOnMessage,
        XmppFault::IqUnknownIgnored,
        XmppFault::ReuseStreamId,
        XmppFault::OpenWithoutId,
        XmppFault::AdvertiseStarttls,
        XmppFault::ErrorWithoutOpen,
        XmppFault::ScramBadServerSignature,
        XmppFault::ExtraPresenceAttribute,
        XmppFault::BindBeforeAuth,
        XmppFault::BadSeeOtherUri,
        XmppFault::AcceptUnknownHost,
        XmppFault::StanzaBeforeBindIgnored,
        XmppFault::OpenWithoutTo,
        XmppFault::EchoSubprotocol,
        XmppFault::CrashXmppAfterLogin,
        XmppFault::IqUnknownAnsweredResult,
        XmppFault::NegativePriorityDelivered,
        XmppFault::ErrorMessageDelivered,
        XmppFault::BarePresenceOneResource,
        XmppFault::NoRosterPush,
        XmppFault::AutoApproveSubscription,
        XmppFault::NoUnavailableOnDrop,
        XmppFault::SubscriptionFullFrom,
        XmppFault::NoProbeAnswer,
        XmppFault::EmptyRosterError,
        XmppFault::MucNoStatus110,
        XmppFault::MucNotReflected,
        XmppFault::MucSelfPresenceFirst,
        XmppFault::OfflineMessageDropped,
        XmppFault::SmCountsNonzas,
        XmppFault::SmEnableBeforeBind,
        XmppFault::SmResumedCountReset,
        XmppFault::SmResumeLosesHeld,
        XmppFault::SmFailedWithoutCondition,
        XmppFault::RegisterConflictAccepted,
        XmppFault::RegisterRemoveKept,
    ];

    /// The kebab-case name used on the command line (`--fault stream-header`).
    pub fn name(self) -> &'static str {
        match self {
            Self::StreamHeader => "stream-header",
            Self::TwoElementsPerMessage => "two-elements-per-message",
            Self::PresenceNotReflected => "presence-not-reflected",
            Self::NoCloseReply => "no-close-reply",
            Self::WrongFromOnMessage => "wrong-from-on-message",
            Self::IqUnknownIgnored => "iq-unknown-ignored",
            Self::ReuseStreamId => "reuse-stream-id",
            Self::OpenWithoutId => "open-without-id",
            Self::AdvertiseStarttls => "advertise-starttls",
            Self::ErrorWithoutOpen => "error-without-open",
            Self::ScramBadServerSignature => "scram-bad-server-signature",
            Self::ExtraPresenceAttribute => "extra-presence-attribute",
            Self::BindBeforeAuth => "bind-before-auth",
            Self::BadSeeOtherUri => "bad-see-other-uri",
            Self::AcceptUnknownHost => "accept-unknown-host",
            Self::StanzaBeforeBindIgnored => "stanza-before-bind-ignored",
            Self::OpenWithoutTo => "open-without-to",
            Self::EchoSubprotocol => "echo-subprotocol",
            Self::CrashXmppAfterLogin => "crash-xmpp-after-login",
            Self::IqUnknownAnsweredResult => "iq-unknown-answered-result",
            Self::NegativePriorityDelivered => "negative-priority-delivered",
            Self::ErrorMessageDelivered => "error-message-delivered",
            Self::BarePresenceOneResource => "bare-presence-one-resource",
            Self::NoRosterPush => "no-roster-push",
            Self::AutoApproveSubscription => "auto-approve-subscription",
            Self::NoUnavailableOnDrop => "no-unavailable-on-drop",
            Self::SubscriptionFullFrom => "subscription-full-from",
            Self::NoProbeAnswer => "no-probe-answer",
            Self::EmptyRosterError => "empty-roster-error",
            Self::MucNoStatus110 => "muc-no-status-110",
            Self::MucNotReflected => "muc-not-reflected",
            Self::MucSelfPresenceFirst => "muc-self-presence-first",
            Self::OfflineMessageDropped => "offline-message-dropped",
            Self::SmCountsNonzas => "sm-counts-nonzas",
            Self::SmEnableBeforeBind => "sm-enable-before-bind",
            Self::SmResumedCountReset => "sm-resumed-count-reset",
            Self::SmResumeLosesHeld => "sm-resume-loses-held",
            Self::SmFailedWithoutCondition => "sm-failed-without-condition",
            Self::RegisterConflictAccepted => "register-conflict-accepted",
            Self::RegisterRemoveKept => "register-remove-kept",
        }
    }

    /// One sentence saying which rule the fault breaks and how.
    pub fn describe(self) -> &'static str {
        match self {
            Self::StreamHeader => {
                "answers the client's <open/> with a legacy <stream:stream/> header instead of <open/> (RFC7395-3.4-2)"
            }
            Self::TwoElementsPerMessage => {
                "sends <open/> and <stream:features/> in one WebSocket message (RFC7395-3.3.3-4)"
            }
            Self::PresenceNotReflected => {
                "does not send initial presence back to its sender (RFC6121-4.2.2-2)"
            }
            Self::NoCloseReply => {
                "does not answer <close/> with <close/>; it just closes the WebSocket (RFC6120-4.4-1)"
            }
            Self::WrongFromOnMessage => {
                "stamps the sender's bare JID, not its full JID, as 'from' on routed messages (RFC6120-8.1.2.1-1)"
            }
            Self::IqUnknownIgnored => {
                "sends no error reply to an iq get/set with an unknown payload (RFC6120-8.4-12)"
            }
            Self::ReuseStreamId => {
                "reuses the first stream id in the <open/> after the SASL restart (RFC6120-6.4.6-5)"
            }
            Self::OpenWithoutId => "omits the 'id' attribute of its <open/> (RFC6120-4.7.3-4)",
            Self::AdvertiseStarttls => {
                "advertises <starttls/> in the stream features over WebSocket (RFC7395-3.9-2)"
            }
            Self::ErrorWithoutOpen => {
                "sends a stream error caused by the opening without a response <open/> first (RFC7395-3.5-2)"
            }
            Self::ScramBadServerSignature => {
                "sends a SCRAM server-final-message whose server signature v= is wrong (RFC 5802 Section 5.1)"
            }
            Self::ExtraPresenceAttribute => {
                "adds xml:lang='en' to the presence it reflects to the sender (breaks no rule; only a snapshot sees it)"
            }
            Self::BindBeforeAuth => {
                "offers <bind/> in the stream features before authentication (RFC6120-7.4-2)"
            }
            Self::BadSeeOtherUri => {
                "answers <close/> with a <close/> whose see-other-uri is not an endpoint URI (RFC7395-3.6.1-1)"
            }
            Self::AcceptUnknownHost => {
                "opens a stream for an <open/> to any domain instead of a <host-unknown/> stream error (RFC 6120 4.9.3.6)"
            }
            Self::StanzaBeforeBindIgnored => {
                "drops a stanza sent before resource binding instead of closing the stream with <not-authorized/> (RFC6120-7.1-5)"
            }
            Self::OpenWithoutTo => {
                "omits 'to' from its response header although the client's <open/> had 'from' (RFC6120-4.7.2-2)"
            }
            Self::EchoSubprotocol => {
                "accepts any WebSocket upgrade and selects the first subprotocol offered, xmpp or not (RFC7395-3.1-2)"
            }
            Self::CrashXmppAfterLogin => {
                "the process aborts on an <iq> with a doubled 'id' attribute after login (a crash for `wirecheck fuzz`)"
            }
            Self::IqUnknownAnsweredResult => {
                "answers an iq get/set whose payload it does not understand with a result, not <service-unavailable/> (RFC6120-10.3.3-3)"
            }
            Self::NegativePriorityDelivered => {
                "delivers messages to a bare JID to resources with negative priority too (RFC6121-8.5.2.1.1-12)"
            }
            Self::ErrorMessageDelivered => {
                "delivers a message of type error addressed to a bare JID instead of ignoring it (RFC6121-8.5.2.1.1-11)"
            }
            Self::BarePresenceOneResource => {
                "delivers presence addressed to a bare JID to only one of the available resources (RFC6121-8.5.2.1.2-1)"
            }
            Self::NoRosterPush => {
                "answers a roster set with a result but pushes the item to no interested resource (RFC6121-2.3.2-3)"
            }
            Self::AutoApproveSubscription => {
                "approves an inbound subscription request itself instead of delivering it to the contact (RFC6121-3.1.3-5)"
            }
            Self::NoUnavailableOnDrop => {
                "sends subscribers no unavailable presence when a connection drops without <close/> (RFC6121-4.5.2-6)"
            }
            Self::SubscriptionFullFrom => {
                "stamps the sender's full JID, not its bare JID, on subscription presence (RFC6121-3-1)"
            }
            Self::NoProbeAnswer => {
                "does not send a new presence session the current presence of the contacts it is subscribed to (RFC6121-4.3.2-9)"
            }
            Self::EmptyRosterError => {
                "answers a roster get on an empty roster with an <item-not-found/> error (RFC6121-2.1.4-1)"
            }
            Self::MucNoStatus110 => {
                "sends MUC self-presence without status code 110 (XEP-0045-7.2.3-3)"
            }
            Self::MucNotReflected => {
                "does not send a groupchat message back to the occupant who sent it (XEP-0045-7.4-1)"
            }
            Self::MucSelfPresenceFirst => {
                "sends a joining occupant its self-presence before the presence of the occupants already there (XEP-0045-7.2.3-1)"
            }
            Self::OfflineMessageDropped => {
                "drops a chat message to an account with no connected resource instead of storing or bouncing it (RFC6120-10.5.3.2-2)"
            }
            Self::SmCountsNonzas => {
                "counts stream management <r/> elements as handled stanzas in the h of <a/> (XEP-0198-4-1)"
            }
            Self::SmEnableBeforeBind => {
                "enables stream management on a stream with no bound resource instead of answering <failed/> (XEP-0198-3-2)"
            }
            Self::SmResumedCountReset => {
                "answers <resume/> with h='0' instead of the count of stanzas handled on the old stream (XEP-0198-5-1)"
            }
            Self::SmResumeLosesHeld => {
                "drops the stanzas held for a detached session when it is resumed (XEP-0198-5-2)"
            }
            Self::SmFailedWithoutCondition => {
                "refuses a <resume/> of an unknown stream with <failed/> and no <item-not-found/> (XEP-0198-5-3)"
            }
            Self::RegisterConflictAccepted => {
                "answers a registration set for a username already taken with a result (the account keeps its password) instead of <conflict/> (XEP-0077-3.1-3)"
            }
            Self::RegisterRemoveKept => {
                "answers <remove/> with a result but keeps the account, which still authenticates (XEP-0077-3.2-1)"
            }
        }
    }
}

impl fmt::Display for XmppFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for XmppFault {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        XmppFault::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFault(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in XmppFault::ALL {
            assert_eq!(f.name().parse::<XmppFault>(), Ok(*f));
            assert!(!f.describe().is_empty());
            assert!(
                f.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            );
        }
        let err = "nope".parse::<XmppFault>().unwrap_err();
        assert!(err.to_string().contains("stream-header"));
    }
}
