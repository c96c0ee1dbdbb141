struct Counter(u64);

impl Counter {
    /// Count.
    #[mcp::tool]
    async fn take(self) -> u64 {
        self.0
    }
}

fn main() {}
