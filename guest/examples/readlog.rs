use std::io::Read;
fn main() {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).unwrap();
    let args: Vec<String> = std::env::args().collect();
    let input = backstop_core::LogInput {
        text,
        exit_code: args.get(1).and_then(|a| a.parse().ok()),
        signal: args.get(2).cloned(),
        stream: None,
    };
    let r = backstop_core::read_log(&input).unwrap();
    println!("{:#?}", r);
    let p = backstop_core::Policy::builtin();
    println!("{:?}", p.classify(&r.failure));
}
