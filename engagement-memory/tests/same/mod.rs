//! What the comparison suites (`differential.rs`, `edges.rs`) share.

/// Runs `$call` on the memory store (`$both[0]`) and on the reference (`$both[1]`), each bound
/// to `$store`, asserts the answers are equal and gives the memory store's.
macro_rules! same {
    ($both:ident, $store:ident => $call:expr) => {{
        let m = {
            let $store = $both[0];
            $call.await.unwrap()
        };
        let r = {
            let $store = $both[1];
            $call.await.unwrap()
        };
        assert_eq!(m, r, "{}", stringify!($call));
        m
    }};
}

pub(crate) use same;
