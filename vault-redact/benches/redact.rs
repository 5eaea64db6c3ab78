//! Redaction throughput on one core: 100 values of 20–200 bytes over 4 MiB of
//! log-like output that holds a value (raw or encoded) about every 4 KiB, streamed in
//! 8 KiB reads as a child's pipe delivers them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vault_redact::{Options, Redactor};

fn values() -> Vec<(String, Vec<u8>)> {
    (0..100)
        .map(|i| {
            let len = 20 + (i * 37) % 181;
            let value: Vec<u8> = (0..len)
                .map(|j| b"abcdefghijklmnopqrstuvwxyz0123456789-_"[(i * 7 + j * 13) % 38])
                .collect();
            (format!("SECRET_{i}"), value)
        })
        .collect()
}

fn output(values: &[(String, Vec<u8>)]) -> Vec<u8> {
    let line = b"2026-12-03T10:00:00Z INFO agent step completed: wrote 42 files, 3 warnings\n";
    let mut out = Vec::with_capacity(4 << 20);
    let mut n = 0;
    while out.len() < 4 << 20 {
        for _ in 0..52 {
            out.extend_from_slice(line);
        }
        let value = &values[n % values.len()].1;
        if n % 2 == 0 {
            out.extend_from_slice(value);
        } else {
            out.extend_from_slice(STANDARD.encode(value).as_bytes());
        }
        out.push(b'\n');
        n += 1;
    }
    out
}

fn redaction(c: &mut Criterion) {
    let values = values();
    let redactor = Redactor::new(
        values.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
        Options::default(),
    )
    .expect("builds");
    let input = output(&values);
    let mut group = c.benchmark_group("redact");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.sample_size(10);
    group.bench_function("stream_4MiB_100_values", |b| {
        let mut out = Vec::with_capacity(input.len());
        b.iter(|| {
            out.clear();
            let mut stream = redactor.stream();
            for chunk in input.chunks(8192) {
                stream.push(chunk, &mut out);
            }
            stream.finish(&mut out);
            assert!(out.len() < input.len(), "values were redacted");
        });
    });
    group.bench_function("build_100_values", |b| {
        b.iter(|| {
            Redactor::new(
                values.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
                Options::default(),
            )
            .expect("builds")
        });
    });
    group.finish();
}

criterion_group!(benches, redaction);
criterion_main!(benches);
