use mspl::syntax::parse_file;
use mspl::Limits;
#[test]
fn probe() {
    let n: usize = std::env::var("N").unwrap().parse().unwrap();
    let sep = if std::env::var("NL").is_ok() {
        "\n"
    } else {
        " "
    };
    let body: Vec<String> = (0..n)
        .map(|i| format!("principal.a{i} == [1, {{b: \"x\"}}, (2 + 3)]"))
        .collect();
    let text = format!(
        "permit(principal, action, resource) when {{ {} }};",
        body.join(&format!(" &&{sep}"))
    );
    let t = std::time::Instant::now();
    let p = parse_file(&text, 0, &Limits::default());
    eprintln!(
        "n={n} len={} errors={} took {:?}",
        text.len(),
        p.errors.len(),
        t.elapsed()
    );
}
