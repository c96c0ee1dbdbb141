include!(concat!(env!("OUT_DIR"), "/many_ours.rs"));
