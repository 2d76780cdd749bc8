//! Well-known event names from the product documents. Names are open data: a host may send any
//! name, and the activity report maps the host's own names to milestones.

/// A page was viewed (event log, funnels).
pub const PAGE_VIEWED: &str = "Page Viewed";
/// The customer opened their order-portal link (activity "views").
pub const LINK_OPENED: &str = "Link Opened";
/// The buyer clicked through the confirmation welcome screen.
pub const CONFIRMED: &str = "Confirmed";
/// The buyer passed a Strict Security Mode challenge.
pub const VERIFIED: &str = "Verified";
/// The buyer reached checkout.
pub const CHECKOUT_STARTED: &str = "Checkout Started";
/// An order was submitted through the portal.
pub const ORDER_SUBMITTED: &str = "Order Submitted";
/// The customer registered.
pub const REGISTERED: &str = "Registered";
/// The customer subscribed.
pub const SUBSCRIBED: &str = "Subscribed";
/// A UI modal was shown; the modal's name is in the metadata under [`MODAL_NAME_KEY`].
pub const MODAL_DISPLAYED: &str = "Modal Displayed";

/// Metadata key holding the modal name of a [`MODAL_DISPLAYED`] event.
pub const MODAL_NAME_KEY: &str = "modal_name";

/// Modal names the UI libraries report.
pub mod modals {
    /// Paywall or metering modal shown to gate access.
    pub const METER: &str = "meter";
    /// Newsletter signup modal.
    pub const NEWSLETTER: &str = "newsletter";
    /// Registration modal.
    pub const REGISTER: &str = "register";
    /// Subscription selection modal.
    pub const SUBSCRIBE: &str = "subscribe";
    /// Success confirmation modal.
    pub const SUCCESS: &str = "success";
}
