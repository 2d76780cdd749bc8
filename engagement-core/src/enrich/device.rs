//! The device class from a User-Agent, with the `woothee` parser (its data is compiled in).

use crate::model::event::Device;

/// The device class a User-Agent names: `None` for crawlers, appliances and anything unknown.
///
/// `woothee` tells a PC from a smartphone or feature phone; it does not tell tablets apart, so
/// the usual rule is applied on top: an iPad, an Android device without the `Mobile` token
/// (but for Opera's phone browsers, which never send it), or a User-Agent saying `Tablet` is a
/// tablet. Televisions, streaming sticks and headsets, which `woothee` takes for PCs or
/// Android phones, are appliances: their User-Agents name them.
///
/// ```
/// use engagement_core::Device;
/// use engagement_core::enrich::device_class;
///
/// let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
/// assert_eq!(device_class(iphone), Some(Device::Mobile));
/// assert_eq!(device_class("Googlebot/2.1 (+http://www.google.com/bot.html)"), None);
/// ```
pub fn device_class(user_agent: &str) -> Option<Device> {
    if APPLIANCE_TOKENS.iter().any(|t| user_agent.contains(t)) {
        return None;
    }
    let parsed = woothee::parser::Parser::new().parse(user_agent)?;
    match parsed.category {
        "pc" => Some(Device::Desktop),
        "mobilephone" => Some(Device::Mobile),
        "smartphone" => {
            let tablet = parsed.os == "iPad"
                || (parsed.os == "Android"
                    && !user_agent.contains("Mobile")
                    && !user_agent.contains("Opera Mini")
                    && !user_agent.contains("Opera Mobi"))
                || user_agent.contains("Tablet");
            Some(if tablet {
                Device::Tablet
            } else {
                Device::Mobile
            })
        }
        _ => None,
    }
}

/// What televisions (Samsung's Tizen, LG's webOS, Android TV sets such as Sony's BRAVIA),
/// streaming sticks (Amazon's Fire TV models `AFT…`, Chromecast) and VR headsets (Meta Quest)
/// put in their User-Agents.
const APPLIANCE_TOKENS: [&str; 11] = [
    "SMART-TV",
    "SmartTV",
    "Web0S",
    "BRAVIA",
    "Android TV",
    "GoogleTV",
    "; AFT",
    "Chromecast",
    "CrKey",
    "OculusBrowser",
    "Quest",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_user_agents_get_their_class() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                Some(Device::Desktop),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
                Some(Device::Desktop),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
                Some(Device::Desktop),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
                Some(Device::Mobile),
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
                Some(Device::Tablet),
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                Some(Device::Tablet),
            ),
            // Opera's phone browsers on Android send no `Mobile` token.
            (
                "Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16",
                Some(Device::Mobile),
            ),
            (
                "Opera/9.80 (Android 2.3.3; Linux; Opera Mobi/ADR-1111101157; U; es-ES) Presto/2.9.201 Version/11.50",
                Some(Device::Mobile),
            ),
            (
                "Opera/9.80 (Android 3.2.1; Linux; Opera Tablet/ADR-1109081720; U; en) Presto/2.8.149 Version/11.10",
                Some(Device::Tablet),
            ),
            (
                "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
                None,
            ),
            ("", None),
            ("\u{0}\u{1}garbage", None),
        ];
        for (ua, expected) in cases {
            assert_eq!(device_class(ua), expected, "{ua}");
        }
    }

    #[test]
    fn televisions_sticks_and_headsets_are_appliances() {
        for ua in [
            "Mozilla/5.0 (Linux; Android 10; BRAVIA 4K VH2 Build/QTG3.200305.006.S292) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 Safari/537.36",
            "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233) AppleWebKit/537.36 (KHTML, like Gecko) Silk/98.3.43 like Chrome/98.0.4758.136 Safari/537.36",
            "Mozilla/5.0 (Linux; Android 12; Chromecast) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0.0.0 Safari/537.36",
            "Mozilla/5.0 (X11; Linux x86_64; Quest 2) AppleWebKit/537.36 (KHTML, like Gecko) OculusBrowser/26.0.0.6.60 SamsungBrowser/4.0 Chrome/112.0.0.0 VR Safari/537.36",
            "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36",
            "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.79 Safari/537.36 WebAppManager",
        ] {
            assert_eq!(device_class(ua), None, "{ua}");
        }
    }
}
