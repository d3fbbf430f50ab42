//! Address patterns of DICOM peers: one IP, a CIDR block, or `*`.

use std::net::IpAddr;

use crate::AuthError;

/// Where a DICOM peer may connect from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPattern {
    Any,
    /// A network: its address and prefix length (32 or 128 for one host).
    Network(IpAddr, u8),
}

impl AddressPattern {
    /// `*`, `10.0.0.7`, `10.1.0.0/16`, `::1`, `fd00::/8`.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let text = text.trim();
        if text == "*" {
            return Ok(Self::Any);
        }
        let bad = || {
            AuthError::Config(format!(
                "'{text}' is not an address pattern: an IP address, a CIDR block like 10.1.0.0/16, or *"
            ))
        };
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix)),
            None => (text, None),
        };
        let ip: IpAddr = ip.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        Ok(Self::Network(ip, prefix))
    }

    /// Whether `address` is inside the pattern (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn matches(&self, address: IpAddr) -> bool {
        let Self::Network(network, prefix) = *self else {
            return true;
        };
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        match (network, address) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_hosts_and_any() {
        let net = AddressPattern::parse("10.1.0.0/16").unwrap();
        assert!(net.matches(ip("10.1.200.3")));
        assert!(!net.matches(ip("10.2.0.1")));
        assert!(net.matches(ip("::ffff:10.1.0.9")));
        let host = AddressPattern::parse("127.0.0.1").unwrap();
        assert!(host.matches(ip("127.0.0.1")));
        assert!(!host.matches(ip("127.0.0.2")));
        assert!(AddressPattern::parse("0.0.0.0/0")
            .unwrap()
            .matches(ip("8.8.8.8")));
        let v6 = AddressPattern::parse("fd00::/8").unwrap();
        assert!(v6.matches(ip("fd12::1")));
        assert!(!v6.matches(ip("fe80::1")));
        assert!(!v6.matches(ip("10.0.0.1")));
        assert!(AddressPattern::parse("*").unwrap().matches(ip("::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "host.example",
            "10.0.0/8",
            "::1/129",
            "1.2.3.4/x",
        ] {
            assert!(AddressPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
