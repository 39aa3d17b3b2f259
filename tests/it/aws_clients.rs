//! Unmodified boto3 and the AWS CLI against a real server on loopback.

use crate::server::Server;

fn run(script: &str) {
    let server = Server::start();
    if let Some((ok, output)) = server.run_python(script) {
        println!("{output}");
        assert!(ok, "{script} failed:\n{output}");
    }
}

#[test]
fn boto3_iam_and_sts() {
    run("test_iam.py");
}

#[test]
fn aws_cli() {
    run("test_cli.py");
}

#[test]
fn boto3_sign_in_administration() {
    run("test_signin.py");
}

#[test]
fn boto3_sts_sessions() {
    run("test_sts.py");
}

#[test]
fn login_api_and_client_commands() {
    run("test_login.py");
}

#[test]
fn protocol_edges() {
    run("test_protocol.py");
}
