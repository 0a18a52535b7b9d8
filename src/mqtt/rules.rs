//! The normative statements the MQTT code checks, and the statement id of each in MQTT 3.1.1 and in MQTT 5.0.
//!
//! 3.1.1 and 5.0 reuse the same id strings for different statements (3.1.1 `MQTT-3.1.3-7` is "a
//! zero-byte ClientId needs CleanSession 1", 5.0 `MQTT-3.1.3-7` is "return the Assigned Client
//! Identifier"), so code never writes an id: it names a [`Rule`] and asks for its id in the version it
//! speaks. Each 5.0 id below was looked up by the statement's text in
//! `shared/spec/mqtt-v5.0-statements.md`, not by its 3.1.1 id; a `//` comment quotes the 5.0 text
//! where the two ids differ or the match is not word for word. `None` means the version has no
//! such statement: a check of that rule does not apply there (see [`Rule::violation`]).
//!
//! "Nearest" marks a check whose breach the version's text forbids without giving it a statement
//! id of its own; it is tagged with the version's general error-handling statement (3.1.1
//! `MQTT-4.8.0-1`, 5.0 `MQTT-4.13.1-1`, both in the section "Handling errors"), as the codec
//! always did for 3.1.1.
//!
//! The session's rules are here too although `session.rs` (being rewritten) still spells their
//! ids: `ConnackFirst`, `CleanSessionNotPresent`, `ProtocolViolation`, the `…Answers…` rules
//! (the decoder uses `PubcompAnswersPubrel` too), `CloseAfterDisconnect`, `WsBinaryFrames` and
//! `WsSubprotocol`.

use super::Version;
use crate::violation::Violation;

/// `id!(None)` or `id!("MQTT-…")` as an `Option<&'static str>`.
macro_rules! id {
    (None) => {
        None
    };
    ($id:literal) => {
        Some($id)
    };
}

/// Declares [`Rule`], [`Rule::ALL`] and the id table from one row per rule: `Name: v3.1.1, v5.0;`.
macro_rules! rules {
    ($( $(#[$doc:meta])* $name:ident : $v311:tt, $v5:tt; )*) => {
        /// A normative statement the MQTT code checks, independent of the protocol version.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $( $(#[$doc])* $name, )*
        }

        impl Rule {
            /// Every rule, in table order.
            pub const ALL: &'static [Rule] = &[$(Rule::$name,)*];

            /// The (3.1.1, 5.0) ids of the rule.
            fn ids(self) -> (Option<&'static str>, Option<&'static str>) {
                match self {
                    $( Rule::$name => (id!($v311), id!($v5)), )*
                }
            }
        }
    };
}

rules! {
    // ---- 1.5 Data representation, 2 Control packet format ----
    /// A UTF-8 encoded string is well-formed UTF-8 without surrogate code points.
    Utf8WellFormed: "MQTT-1.5.3-1", "MQTT-1.5.4-1";
    /// A UTF-8 encoded string contains no U+0000.
    Utf8NoNull: "MQTT-1.5.3-2", "MQTT-1.5.4-2";
    /// The remaining length uses the fewest bytes that can hold its value.
    // 3.1.1 section 2.2.3 defines the encoding without a statement id: nearest.
    // 5.0: "The encoded value MUST use the minimum number of bytes necessary to represent the value."
    NonMinimalLength: "MQTT-4.8.0-1", "MQTT-1.5.5-1";
    /// The remaining length takes at most four bytes.
    // Both versions state the four-byte maximum (2.2.3 / 1.5.5) without an id: nearest.
    LengthOverFourBytes: "MQTT-4.8.0-1", "MQTT-4.13.1-1";
    /// The packet type is not a reserved one (0, and 15 in 3.1.1).
    // Table 2.1 (both versions) says "Reserved" / "Forbidden" without an id: nearest.
    ReservedPacketType: "MQTT-4.8.0-1", "MQTT-4.13.1-1";
    /// Reserved fixed-header flag bits have the value the flags table lists.
    // 5.0 MQTT-2.1.3-1: "Where a flag bit is marked as “Reserved” it is reserved for future use and
    // MUST be set to the value listed." (5.0 MQTT-2.2.2-1 is the Property Length statement.)
    ReservedFlags: "MQTT-2.2.2-1", "MQTT-2.1.3-1";
    /// PUBREL fixed-header flags are 0010.
    ReservedFlagsPubrel: "MQTT-3.6.1-1", "MQTT-3.6.1-1";
    /// SUBSCRIBE fixed-header flags are 0010.
    ReservedFlagsSubscribe: "MQTT-3.8.1-1", "MQTT-3.8.1-1";
    /// UNSUBSCRIBE fixed-header flags are 0010.
    ReservedFlagsUnsubscribe: "MQTT-3.10.1-1", "MQTT-3.10.1-1";
    /// DISCONNECT fixed-header reserved bits are 0.
    // 5.0: "The Client or Server MUST validate that reserved bits are set to 0. ..."
    ReservedFlagsDisconnect: "MQTT-3.14.1-1", "MQTT-3.14.1-1";
    /// A packet has no bytes after its last field.
    // Fixed by each packet's layout, without an id: nearest.
    TrailingBytes: "MQTT-4.8.0-1", "MQTT-4.13.1-1";
    /// A packet ends no earlier than its fields (a field does not run past the remaining length).
    // Without an id where no packet-specific presence statement applies: nearest.
    TruncatedField: "MQTT-4.8.0-1", "MQTT-4.13.1-1";
    /// A packet type is sent only by the side the spec lets send it.
    // Each packet section names its direction, without an id: nearest.
    WrongDirection: "MQTT-4.8.0-1", "MQTT-4.13.1-1";
    /// A protocol violation closes the connection (the general statement, for errors no narrower rule names).
    // 5.0: "When a Server detects a Malformed Packet or Protocol Error, and a Reason Code is given
    // in the specification, it MUST close the Network Connection."
    ProtocolViolation: "MQTT-4.8.0-1", "MQTT-4.13.1-1";
    /// A client's SUBSCRIBE, UNSUBSCRIBE and QoS > 0 PUBLISH carry a non-zero packet identifier.
    // 5.0: "Each time a Client sends a new SUBSCRIBE, UNSUBSCRIBE,or PUBLISH (where QoS > 0) MQTT
    // Control Packet it MUST assign it a non-zero Packet Identifier that is currently unused."
    PacketIdNonZeroClient: "MQTT-2.3.1-1", "MQTT-2.2.1-3";
    /// A server's QoS > 0 PUBLISH carries a non-zero packet identifier.
    // 3.1.1 MQTT-2.3.1-1 covers both senders; 5.0: "Each time a Server sends a new PUBLISH (with
    // QoS > 0) MQTT Control Packet it MUST assign it a non zero Packet Identifier that is currently unused."
    PacketIdNonZeroServer: "MQTT-2.3.1-1", "MQTT-2.2.1-4";
    /// PUBACK, PUBREC and PUBREL carry the identifier of the PUBLISH they answer.
    // 5.0: "A PUBACK, PUBREC, PUBREL, or PUBCOMP packet MUST contain the same Packet Identifier as
    // the PUBLISH packet that was originally sent."
    PublishAckSameId: "MQTT-2.3.1-6", "MQTT-2.2.1-5";
    /// SUBACK and UNSUBACK carry the identifier of the SUBSCRIBE or UNSUBSCRIBE they answer.
    // 5.0: "A SUBACK and UNSUBACK MUST contain the Packet Identifier that was used in the
    // corresponding SUBSCRIBE and UNSUBSCRIBE packet respectively."
    SubscriptionAckSameId: "MQTT-2.3.1-7", "MQTT-2.2.1-6";

    // ---- 3.1 CONNECT ----
    /// A CONNECT that does not match the format of section 3.1 is refused by closing the connection.
    ConnectMalformed: "MQTT-3.1.4-1", "MQTT-3.1.4-1";
    /// The reserved bit 0 of the connect flags is 0.
    ConnectReservedFlag: "MQTT-3.1.2-3", "MQTT-3.1.2-3";
    /// With Will Flag 1 the will topic and will message are present.
    // 5.0: "If the Will Flag is set to 1, the Will Properties, Will Topic, and Will Payload fields
    // MUST be present in the Payload"
    WillFieldsPresent: "MQTT-3.1.2-9", "MQTT-3.1.2-9";
    /// With Will Flag 0 the Will QoS is 0.
    // 5.0: "If the Will Flag is set to 0, then the Will QoS MUST be set to 0 (0x00)."
    WillQosWithoutWill: "MQTT-3.1.2-13", "MQTT-3.1.2-11";
    /// With Will Flag 1 the Will QoS is 0, 1 or 2, never 3.
    // 5.0: "If the Will Flag is set to 1, the value of Will QoS can be 0 (0x00), 1 (0x01), or 2
    // (0x02)." (the body adds "A value of 3 (0x03) is a Malformed Packet").
    WillQosNot3: "MQTT-3.1.2-14", "MQTT-3.1.2-12";
    /// With Will Flag 0 the Will Retain flag is 0.
    // 5.0: "If the Will Flag is set to 0, then Will Retain MUST be set to 0."
    WillRetainWithoutWill: "MQTT-3.1.2-15", "MQTT-3.1.2-13";
    /// With User Name Flag 0 no user name follows.
    // 5.0: "If the User Name Flag is set to 0, a User Name MUST NOT be present in the Payload."
    UsernameAbsentUnflagged: "MQTT-3.1.2-18", "MQTT-3.1.2-16";
    /// With User Name Flag 1 a user name follows.
    // 5.0: "If the User Name Flag is set to 1, a User Name MUST be present in the Payload."
    UsernamePresentFlagged: "MQTT-3.1.2-19", "MQTT-3.1.2-17";
    /// With Password Flag 0 no password follows.
    // 5.0: "If the Password Flag is set to 0, a Password MUST NOT be present in the Payload."
    PasswordAbsentUnflagged: "MQTT-3.1.2-20", "MQTT-3.1.2-18";
    /// With Password Flag 1 a password follows.
    // 5.0: "If the Password Flag is set to 1, a Password MUST be present in the Payload."
    PasswordPresentFlagged: "MQTT-3.1.2-21", "MQTT-3.1.2-19";
    /// A password is sent only with a user name (User Name Flag 0 means Password Flag 0).
    // 5.0 has no such statement: section 3.1.2.9 allows a Password without a User Name ("where MQTT
    // v3.1.1 did not"). 5.0 MQTT-3.1.2-22 is the server's keep-alive timeout.
    PasswordNeedsUsername: "MQTT-3.1.2-22", None;
    /// The client identifier is present as the first payload field.
    // 5.0: "The ClientID MUST be present and is the first field in the CONNECT packet Payload."
    ClientIdFirst: "MQTT-3.1.3-3", "MQTT-3.1.3-3";
    /// A zero-byte client identifier comes with CleanSession 1.
    // 5.0 has no such statement: a zero-length ClientID is allowed with either Clean Start
    // (3.1.3.1); 5.0 MQTT-3.1.3-7 is "return the Assigned Client Identifier in the CONNACK".
    EmptyClientIdCleanSession: "MQTT-3.1.3-7", None;

    // ---- 3.2 CONNACK ----
    /// The first packet a server sends is CONNACK.
    // 5.0: "The Server MUST send a CONNACK with a 0x00 (Success) Reason Code before sending any
    // Packet other than AUTH."
    ConnackFirst: "MQTT-3.2.0-1", "MQTT-3.2.0-1";
    /// A server accepting a clean-session CONNECT answers Session Present 0.
    // 5.0: "If the Server accepts a connection with Clean Start set to 1, the Server MUST set Session
    // Present to 0 in the CONNACK packet ..." (5.0 MQTT-3.2.2-1 is the reserved-flags statement.)
    CleanSessionNotPresent: "MQTT-3.2.2-1", "MQTT-3.2.2-2";
    /// Bits 7-1 of the CONNACK acknowledge flags are 0.
    // 3.1.1 section 3.2.2.1 says "reserved" without an id: nearest.
    // 5.0: "Byte 1 is the "Connect Acknowledge Flags". Bits 7-1 are reserved and MUST be set to 0."
    ConnackReservedFlags: "MQTT-4.8.0-1", "MQTT-3.2.2-1";
    /// A CONNACK carries a defined return (reason) code.
    // 3.1.1 Table 3.1 reserves 6-255 without an id: nearest.
    // 5.0: "The Server sending the CONNACK packet MUST use one of the Connect Reason Code values."
    ConnackReservedCode: "MQTT-4.8.0-1", "MQTT-3.2.2-8";
    /// A CONNACK refusing the connection has Session Present 0.
    // 5.0: "If a Server sends a CONNACK packet containing a non-zero Reason Code it MUST set Session
    // Present to 0." (5.0 MQTT-3.2.2-4 is the client closing on an unexpected Session Present.)
    RefusalNotPresent: "MQTT-3.2.2-4", "MQTT-3.2.2-6";

    // ---- 3.3 PUBLISH ----
    /// A QoS 0 PUBLISH has DUP 0.
    DupZeroForQos0: "MQTT-3.3.1-2", "MQTT-3.3.1-2";
    /// A PUBLISH does not have both QoS bits set.
    PublishQosNot3: "MQTT-3.3.1-4", "MQTT-3.3.1-4";
    /// The topic name is present as the first field of a PUBLISH.
    PublishTopicFirst: "MQTT-3.3.2-1", "MQTT-3.3.2-1";
    /// The topic name of a PUBLISH has no wildcard characters.
    PublishTopicNoWildcard: "MQTT-3.3.2-2", "MQTT-3.3.2-2";

    // ---- 4.3 QoS flows (the answers a receiver owes) ----
    /// A QoS 1 PUBLISH is answered by a PUBACK with its packet identifier.
    // 3.1.1 MQTT-4.3.2-2 is the receiver's QoS 1 list, whose first item is this; 5.0: "In the QoS 1
    // delivery protocol, the receiver MUST respond with a PUBACK packet containing the Packet
    // Identifier from the incoming PUBLISH packet, ..." (5.0 MQTT-4.3.2-2 is the sender's PUBLISH.)
    PubackAnswersQos1: "MQTT-4.3.2-2", "MQTT-4.3.2-4";
    /// A QoS 2 PUBLISH is answered by a PUBREC with its packet identifier.
    // 3.1.1 MQTT-4.3.3-2 is the receiver's QoS 2 list, whose first item is this; 5.0: "In the QoS 2
    // delivery protocol, the receiver MUST respond with a PUBREC containing the Packet Identifier
    // from the incoming PUBLISH packet, ..."
    PubrecAnswersQos2: "MQTT-4.3.3-2", "MQTT-4.3.3-8";
    /// A PUBREL is answered by a PUBCOMP with the PUBREL's packet identifier.
    // 3.1.1 MQTT-4.3.3-2 (third item of the receiver's QoS 2 list); 5.0: "In the QoS 2 delivery
    // protocol, the receiver MUST respond to a PUBREL packet by sending a PUBCOMP packet containing
    // the same Packet Identifier as the PUBREL."
    PubcompAnswersPubrel: "MQTT-4.3.3-2", "MQTT-4.3.3-11";

    // ---- 3.8 SUBSCRIBE, 3.9 SUBACK, 3.10 UNSUBSCRIBE, 3.12 PINGREQ ----
    /// A SUBSCRIBE is answered by a SUBACK.
    SubackAnswersSubscribe: "MQTT-3.8.4-1", "MQTT-3.8.4-1";
    /// An UNSUBSCRIBE is answered by an UNSUBACK.
    // 5.0: "The Server MUST respond to an UNSUBSCRIBE request by sending an UNSUBACK packet."
    UnsubackAnswersUnsubscribe: "MQTT-3.10.4-4", "MQTT-3.10.4-4";
    /// A PINGREQ is answered by a PINGRESP.
    PingrespAnswersPingreq: "MQTT-3.12.4-1", "MQTT-3.12.4-1";
    /// A SUBSCRIBE has at least one topic filter.
    // 5.0: "The Payload MUST contain at least one Topic Filter and Subscription Options pair."
    // (5.0 MQTT-3.8.3-3 is the No Local option.)
    SubscribeHasFilter: "MQTT-3.8.3-3", "MQTT-3.8.3-2";
    /// The reserved bits of a SUBSCRIBE's options byte are 0 and its QoS is 0, 1 or 2.
    // 5.0: "The Server MUST treat a SUBSCRIBE packet as malformed if any of Reserved bits in the
    // Payload are non-zero." In 5.0 only bits 7-6 are reserved (bits 5-2 are options).
    SubscribeReservedBits: "MQTT-3.8.3-4", "MQTT-3.8.3-5";
    /// A SUBACK has a return (reason) code for each topic filter.
    // 5.0: "The SUBACK packet sent by the Server to the Client MUST contain a Reason Code for each
    // Topic Filter/Subscription Option pair."
    SubackCodePerFilter: "MQTT-3.8.4-5", "MQTT-3.8.4-6";
    /// A SUBACK uses only defined return (reason) codes.
    // 5.0: "The Server sending the SUBACK packet MUST send one of the Subscribe Reason Code values
    // for each Topic Filter received."
    SubackDefinedCodes: "MQTT-3.9.3-2", "MQTT-3.9.3-2";
    /// An UNSUBSCRIBE has at least one topic filter.
    UnsubscribeHasFilter: "MQTT-3.10.3-2", "MQTT-3.10.3-2";

    // ---- 3.14 DISCONNECT ----
    /// After a DISCONNECT the connection is closed and nothing more is sent on it.
    // 3.1.1: "After sending a DISCONNECT Packet the Client MUST close the Network Connection."
    // 5.0: "After sending a DISCONNECT packet the sender MUST close the Network Connection."
    CloseAfterDisconnect: "MQTT-3.14.4-1", "MQTT-3.14.4-2";

    // ---- 4.7 Topic names and topic filters ----
    /// A topic name contains no wildcard character.
    // 5.0: "The wildcard characters can be used in Topic Filters, but MUST NOT be used within a Topic Name."
    TopicNameNoWildcard: "MQTT-4.7.1-1", "MQTT-4.7.0-1";
    /// `#` stands alone as the last level of a filter.
    // 5.0: "The multi-level wildcard character MUST be specified either on its own or following a
    // topic level separator. In either case it MUST be the last character specified in the Topic Filter."
    MultiLevelWildcardLast: "MQTT-4.7.1-2", "MQTT-4.7.1-1";
    /// `+` occupies a whole level of a filter.
    // 5.0: "The single-level wildcard can be used at any level in the Topic Filter, including first
    // and last levels. Where it is used, it MUST occupy an entire level of the filter."
    SingleLevelWildcardWholeLevel: "MQTT-4.7.1-3", "MQTT-4.7.1-2";
    /// Topic names and filters are at least one character long.
    TopicNotEmpty: "MQTT-4.7.3-1", "MQTT-4.7.3-1";
    /// Topic names and filters contain no U+0000.
    TopicNoNull: "MQTT-4.7.3-2", "MQTT-4.7.3-2";
    /// Topic names and filters encode to at most 65535 bytes.
    TopicMaxLength: "MQTT-4.7.3-3", "MQTT-4.7.3-3";

    // ---- 4.8.2 Shared subscriptions (5.0 only; 3.1.1 has no shared subscriptions) ----
    /// A shared subscription's filter is `$share/` followed by a share name of at least one character.
    // 5.0: "A Shared Subscription's Topic Filter MUST start with $share/ and MUST contain a ShareName
    // that is at least one character long."
    ShareNameNotEmpty: None, "MQTT-4.8.2-1";
    /// A share name holds no `/`, `+` or `#` and is followed by `/` and a topic filter.
    // 5.0: "The ShareName MUST NOT contain the characters "/", "+" or "#", but MUST be followed by a
    // "/" character. This "/" character MUST be followed by a Topic Filter."
    ShareNameForm: None, "MQTT-4.8.2-2";

    // ---- 2.2.2 Properties, 1.5.5 variable byte integers (5.0 only) ----
    /// A packet that has properties carries a property length (zero when there are none).
    // 5.0: "If there are no properties, this MUST be indicated by including a Property Length of zero."
    PropertyLengthPresent: None, "MQTT-2.2.2-1";
    /// The property length does not run past the remaining length, nor a property value past the property length.
    // 5.0 section 2.2.2.1 defines the length without an id (a breach is a Malformed Packet): nearest.
    PropertyLengthOverrun: None, "MQTT-4.13.1-1";
    /// A variable byte integer inside a packet (property length, identifier, subscription identifier) takes at most four bytes.
    // 5.0 section 1.5.5 states the four-byte maximum without an id: nearest.
    MalformedVarInt: None, "MQTT-4.13.1-1";
    /// Every property identifier is one 5.0 defines.
    // 5.0 section 2.2.2.2 ("A Control Packet which contains an Identifier which is not valid for its
    // packet type ... is a Malformed Packet") has no id: nearest.
    PropertyUnknown: None, "MQTT-4.13.1-1";
    /// A property appears only in the packets (or will) its definition lists.
    // Same section 2.2.2.2 sentence, no id: nearest.
    PropertyNotAllowed: None, "MQTT-4.13.1-1";
    /// A property appears at most once, except user properties and PUBLISH subscription identifiers.
    // Each property section says "It is a Protocol Error to include ... more than once", no id: nearest.
    PropertyDuplicated: None, "MQTT-4.13.1-1";
    /// A property value is in its range (bool-like bytes 0 or 1, Maximum QoS 0 or 1, Receive Maximum,
    /// Maximum Packet Size and Subscription Identifier non-zero).
    // Each property section calls a wrong value a Protocol Error without an id: nearest.
    PropertyValue: None, "MQTT-4.13.1-1";
    /// A Topic Alias is never 0.
    // 5.0: "A sender MUST NOT send a PUBLISH packet containing a Topic Alias which has the value 0."
    TopicAliasNonZero: None, "MQTT-3.3.2-8";
    /// A Response Topic has no wildcard characters.
    // 5.0: "The Response Topic MUST NOT contain wildcard characters."
    ResponseTopicNoWildcard: None, "MQTT-3.3.2-14";
    /// A client's PUBLISH carries no Subscription Identifier.
    // 5.0: "A PUBLISH packet sent from a Client to a Server MUST NOT contain a Subscription Identifier."
    PublishClientSubscriptionId: None, "MQTT-3.3.4-6";
    /// A server's DISCONNECT carries no Session Expiry Interval.
    // 5.0: "The Session Expiry Interval MUST NOT be sent on a DISCONNECT by the Server."
    DisconnectSessionExpiry: None, "MQTT-3.14.2-2";

    // ---- 5.0 limits the client declared in its CONNECT (checked by the session's codec) ----
    /// The server never sends a Topic Alias above the client's Topic Alias Maximum (default 0).
    // 5.0: "A Server MUST NOT send a PUBLISH packet with a Topic Alias greater than the Topic Alias
    // Maximum value sent by the Client in the CONNECT packet."
    TopicAliasAboveMaximum: None, "MQTT-3.3.2-11";
    /// A PUBLISH with an empty topic names an alias the same connection set before.
    // 5.0 section 3.3.2.3.4 calls an unknown alias a Protocol Error without an id: nearest.
    TopicAliasUnknown: None, "MQTT-4.13.1-1";
    /// The server never sends a packet larger than the client's Maximum Packet Size.
    // 5.0: "The Server MUST NOT send packets exceeding Maximum Packet Size to the Client."
    PacketAboveMaximumSize: None, "MQTT-3.1.2-24";
    /// The server keeps at most the client's Receive Maximum QoS 1/2 PUBLISHes unacknowledged.
    // 5.0: "The Server MUST NOT send more than Receive Maximum QoS 1 and QoS 2 PUBLISH packets for
    // which it has not received PUBACK, PUBCOMP, or PUBREC with a Reason Code of 128 or greater".
    ReceiveMaximumExceeded: None, "MQTT-3.3.4-9";
    /// A new QoS 1 PUBLISH from the server does not reuse the packet id of one still unacknowledged.
    // 5.0: "In the QoS 1 delivery protocol, the sender MUST assign an unused Packet Identifier each
    // time it has a new Application Message to publish."
    PublishIdInUseQos1: None, "MQTT-4.3.2-1";
    /// A new QoS 2 PUBLISH from the server does not reuse the packet id of one still unacknowledged.
    // 5.0: "In the QoS 2 delivery protocol, the sender MUST assign an unused Packet Identifier when
    // it has a new Application Message to publish."
    PublishIdInUseQos2: None, "MQTT-4.3.3-1";
    /// No Response Information in the CONNACK unless the client asked for it (Request Response Information 1).
    // 5.0: "A value of 0 indicates that the Server MUST NOT return Response Information."
    ResponseInformationUnrequested: None, "MQTT-3.1.2-28";
    /// No AUTH packet and no Authentication Method in the CONNACK when the CONNECT had no Authentication Method.
    // 5.0: "If the Client does not include an Authentication Method in the CONNECT, the Server MUST
    // NOT send an AUTH packet, and it MUST NOT send an Authentication Method in the CONNACK packet."
    AuthWithoutMethod: None, "MQTT-4.12.0-6";
    /// Every AUTH, and a successful CONNACK, carries the CONNECT's Authentication Method.
    // 5.0: "If the initial CONNECT packet included an Authentication Method property then all AUTH
    // packets, and any successful CONNACK packet MUST include an Authentication Method Property
    // with the same value as in the CONNECT packet."
    AuthMethodSame: None, "MQTT-4.12.0-5";
    /// An AUTH the server sends during the CONNECT's authentication asks to continue it (0x18).
    // 5.0: "If the Server requires additional information to complete the authorization, it can
    // send an AUTH packet to the Client. This packet MUST contain a Reason Code of 0x18 (Continue
    // authentication)."
    AuthContinues: None, "MQTT-4.12.0-2";

    // ---- 5.0 Reason String / User Property beyond the client's Maximum Packet Size ----
    // Each packet section: "The sender MUST NOT send this property if it would increase the size
    // of the <packet> beyond the Maximum Packet Size specified by the receiver."
    /// A CONNACK over the client's Maximum Packet Size carries no Reason String.
    ConnackReasonStringOversize: None, "MQTT-3.2.2-19";
    /// A CONNACK over the client's Maximum Packet Size carries no User Property.
    ConnackUserPropertyOversize: None, "MQTT-3.2.2-20";
    /// A PUBACK over the client's Maximum Packet Size carries no Reason String.
    PubackReasonStringOversize: None, "MQTT-3.4.2-2";
    /// A PUBACK over the client's Maximum Packet Size carries no User Property.
    PubackUserPropertyOversize: None, "MQTT-3.4.2-3";
    /// A PUBREC over the client's Maximum Packet Size carries no Reason String.
    PubrecReasonStringOversize: None, "MQTT-3.5.2-2";
    /// A PUBREC over the client's Maximum Packet Size carries no User Property.
    PubrecUserPropertyOversize: None, "MQTT-3.5.2-3";
    /// A PUBREL over the client's Maximum Packet Size carries no Reason String.
    PubrelReasonStringOversize: None, "MQTT-3.6.2-2";
    /// A PUBREL over the client's Maximum Packet Size carries no User Property.
    PubrelUserPropertyOversize: None, "MQTT-3.6.2-3";
    /// A PUBCOMP over the client's Maximum Packet Size carries no Reason String.
    PubcompReasonStringOversize: None, "MQTT-3.7.2-2";
    /// A PUBCOMP over the client's Maximum Packet Size carries no User Property.
    PubcompUserPropertyOversize: None, "MQTT-3.7.2-3";
    /// A SUBACK over the client's Maximum Packet Size carries no Reason String.
    SubackReasonStringOversize: None, "MQTT-3.9.2-1";
    /// A SUBACK over the client's Maximum Packet Size carries no User Property.
    SubackUserPropertyOversize: None, "MQTT-3.9.2-2";
    /// An UNSUBACK over the client's Maximum Packet Size carries no Reason String.
    UnsubackReasonStringOversize: None, "MQTT-3.11.2-1";
    /// An UNSUBACK over the client's Maximum Packet Size carries no User Property.
    UnsubackUserPropertyOversize: None, "MQTT-3.11.2-2";
    /// A DISCONNECT over the client's Maximum Packet Size carries no Reason String.
    DisconnectReasonStringOversize: None, "MQTT-3.14.2-3";
    /// A DISCONNECT over the client's Maximum Packet Size carries no User Property.
    DisconnectUserPropertyOversize: None, "MQTT-3.14.2-4";
    /// An AUTH over the client's Maximum Packet Size carries no Reason String.
    AuthReasonStringOversize: None, "MQTT-3.15.2-2";
    /// An AUTH over the client's Maximum Packet Size carries no User Property.
    AuthUserPropertyOversize: None, "MQTT-3.15.2-3";

    // ---- 5.0 reason codes (CONNACK and SUBACK use ConnackReservedCode and SubackDefinedCodes) ----
    /// A PUBACK carries one of the PUBACK reason codes.
    // 5.0: "The Client or Server sending the PUBACK packet MUST use one of the PUBACK Reason Codes."
    PubackReasonCode: None, "MQTT-3.4.2-1";
    /// A PUBREC carries one of the PUBREC reason codes.
    PubrecReasonCode: None, "MQTT-3.5.2-1";
    /// A PUBREL carries one of the PUBREL reason codes.
    PubrelReasonCode: None, "MQTT-3.6.2-1";
    /// A PUBCOMP carries one of the PUBCOMP reason codes.
    PubcompReasonCode: None, "MQTT-3.7.2-1";
    /// An UNSUBACK carries one UNSUBACK reason code per topic filter.
    // 5.0: "The Server sending the UNSUBACK packet MUST use one of the UNSUBSCRIBE Reason Code values
    // for each Topic Filter received."
    UnsubackReasonCodes: None, "MQTT-3.11.3-2";
    /// A DISCONNECT carries one of the DISCONNECT reason codes.
    DisconnectReasonCode: None, "MQTT-3.14.2-1";
    /// An AUTH carries one of the Authenticate reason codes.
    AuthReasonCode: None, "MQTT-3.15.2-1";
    /// AUTH fixed-header reserved bits are 0.
    // 5.0: "Bits 3,2,1 and 0 of the Fixed Header of the AUTH packet are reserved and MUST all be set to 0. ..."
    ReservedFlagsAuth: None, "MQTT-3.15.1-1";

    // ---- 3.8.3 5.0 subscription options ----
    /// The Maximum QoS of a subscription option is not 3, and Retain Handling is not 3.
    // 5.0 section 3.8.3.1 calls both a Protocol Error without an id: nearest.
    SubscribeOptionValue: None, "MQTT-4.13.1-1";
    /// No Local is not set on a shared subscription.
    // 5.0: "It is a Protocol Error to set the No Local bit to 1 on a Shared Subscription."
    NoLocalShared: None, "MQTT-3.8.3-4";

    // ---- 6 WebSocket transport ----
    /// MQTT packets travel in binary WebSocket frames.
    WsBinaryFrames: "MQTT-6.0.0-1", "MQTT-6.0.0-1";
    /// The server selects the `mqtt` WebSocket subprotocol.
    WsSubprotocol: "MQTT-6.0.0-4", "MQTT-6.0.0-4";
}

impl Rule {
    /// The statement id of this rule in `version`, or None when that version has no such statement.
    pub fn id(self, version: Version) -> Option<&'static str> {
        let (v311, v5) = self.ids();
        match version {
            Version::V311 => v311,
            Version::V5 => v5,
        }
    }

    /// A breach of this rule as a violation tagged for `version`; None when the rule does not exist
    /// there, so the observation is no violation in that version.
    pub fn violation(self, version: Version, detail: impl Into<String>) -> Option<Violation> {
        self.id(version).map(|id| Violation::new(id, detail))
    }

    /// A breach that makes a packet undecodable: such a packet breaks the version's general
    /// statement even where the version has no statement for this rule.
    pub fn malformed(self, version: Version, detail: impl Into<String>) -> Violation {
        let id = self
            .id(version)
            .unwrap_or_else(|| general_error_statement(version));
        Violation::new(id, detail)
    }
}

/// The version's general statement on protocol errors (the "nearest" id of this module's table).
fn general_error_statement(version: Version) -> &'static str {
    match version {
        Version::V311 => "MQTT-4.8.0-1",
        Version::V5 => "MQTT-4.13.1-1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SpecSet;

    const VERSIONS: [(Version, SpecSet); 2] = [
        (Version::V311, SpecSet::Mqtt311),
        (Version::V5, SpecSet::Mqtt50),
    ];

    #[test]
    fn every_id_is_in_its_versions_list() {
        for (version, set) in VERSIONS {
            for &rule in Rule::ALL {
                if let Some(id) = rule.id(version) {
                    assert!(
                        set.contains(id),
                        "{rule:?}: {id} is not a {} id",
                        set.name()
                    );
                }
            }
            let general = general_error_statement(version);
            assert!(
                set.contains(general),
                "{general} is not a {} id",
                set.name()
            );
            assert_eq!(Rule::ProtocolViolation.id(version), Some(general));
        }
    }

    #[test]
    fn rules_without_a_311_statement() {
        let none: Vec<Rule> = Rule::ALL
            .iter()
            .copied()
            .filter(|r| r.id(Version::V311).is_none())
            .collect();
        assert_eq!(&none[..2], [Rule::ShareNameNotEmpty, Rule::ShareNameForm]);
        // The rest are the 5.0-only property, reason code and subscription option rules.
        assert!(
            none[2..]
                .iter()
                .all(|&r| r >= Rule::PropertyLengthPresent && r <= Rule::NoLocalShared)
        );
        assert_eq!(none.len(), 2 + 25 + 24);
    }

    #[test]
    fn rules_without_a_50_statement() {
        let none: Vec<Rule> = Rule::ALL
            .iter()
            .copied()
            .filter(|r| r.id(Version::V5).is_none())
            .collect();
        assert_eq!(
            none,
            [Rule::PasswordNeedsUsername, Rule::EmptyClientIdCleanSession]
        );
        assert!(
            Rule::PasswordNeedsUsername
                .violation(Version::V5, "x")
                .is_none()
        );
        assert_eq!(
            Rule::EmptyClientIdCleanSession
                .malformed(Version::V5, "x")
                .spec,
            "MQTT-4.13.1-1"
        );
    }

    /// Rules whose 3.1.1 id names a different 5.0 statement: the 5.0 id must differ, and where 5.0
    /// reuses the 3.1.1 string it is for a statement with the same text (checked by hand, see the table).
    #[test]
    fn reused_id_strings_do_not_leak_across_versions() {
        let moved = [
            (Rule::ReservedFlags, "MQTT-2.2.2-1"), // 5.0: Property Length
            (Rule::WillQosWithoutWill, "MQTT-3.1.2-13"), // 5.0: Will Retain with Will Flag 0
            (Rule::WillQosNot3, "MQTT-3.1.2-14"),  // 5.0: publish will non-retained
            (Rule::WillRetainWithoutWill, "MQTT-3.1.2-15"), // 5.0: publish will retained
            (Rule::UsernameAbsentUnflagged, "MQTT-3.1.2-18"), // 5.0: password absent
            (Rule::UsernamePresentFlagged, "MQTT-3.1.2-19"), // 5.0: password present
            (Rule::PasswordAbsentUnflagged, "MQTT-3.1.2-20"), // 5.0: client PINGREQ
            (Rule::PasswordPresentFlagged, "MQTT-3.1.2-21"), // 5.0: Server Keep Alive
            (Rule::CleanSessionNotPresent, "MQTT-3.2.2-1"), // 5.0: CONNACK reserved flags
            (Rule::RefusalNotPresent, "MQTT-3.2.2-4"), // 5.0: client closes
            (Rule::SubscribeHasFilter, "MQTT-3.8.3-3"), // 5.0: No Local
            (Rule::SubscribeReservedBits, "MQTT-3.8.3-4"), // 5.0: No Local on shared
            (Rule::SubackCodePerFilter, "MQTT-3.8.4-5"), // 5.0: several filters
            (Rule::PubackAnswersQos1, "MQTT-4.3.2-2"), // 5.0: sender's QoS 1 PUBLISH
            (Rule::PubrecAnswersQos2, "MQTT-4.3.3-2"), // 5.0: sender's QoS 2 PUBLISH
            (Rule::PubcompAnswersPubrel, "MQTT-4.3.3-2"), // 5.0: sender's QoS 2 PUBLISH
            (Rule::TopicNameNoWildcard, "MQTT-4.7.1-1"), // 5.0: `#` last
            (Rule::MultiLevelWildcardLast, "MQTT-4.7.1-2"), // 5.0: `+` whole level
            (Rule::CloseAfterDisconnect, "MQTT-3.14.4-1"), // 5.0: send nothing more
        ];
        for (rule, v311) in moved {
            assert_eq!(rule.id(Version::V311), Some(v311), "{rule:?}");
            assert_ne!(rule.id(Version::V5), Some(v311), "{rule:?}");
        }
    }
}
