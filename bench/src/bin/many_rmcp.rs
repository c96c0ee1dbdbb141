include!(concat!(env!("OUT_DIR"), "/many_rmcp.rs"));
