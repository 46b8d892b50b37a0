//! PM2 supervisor units on real systemd: `pm2 startup` writes `pm2-root.service`, and
//! bootproof must attach it to the home it serves (through `Environment=PM2_HOME=`),
//! keep it out of the node services, and find a unit systemd has not loaded from its
//! file, gathering the home that only the unit points at.

use serde_json::Value;

use crate::harness::{Machine, assert_exit, lab_required, ports, repo};

#[test]
fn lab_pm2_units_are_attached_to_their_homes() {
    if !lab_required() {
        return;
    }
    let machine = Machine::up("pm2units");
    let port = ports(1);
    machine.write(
        "/opt/my-app/server.js",
        &std::fs::read_to_string(repo().join("tests/lab/my-app/server.js")).expect("server.js"),
        0o644,
    );
    // Never started, never loaded, disabled: only its file says it exists.
    machine.write(
        "/etc/systemd/system/pm2-ghost.service",
        "[Unit]\nDescription=PM2 for a home nobody started\n[Service]\nType=forking\nUser=root\n\
         Environment=PM2_HOME=/srv/ghost/.pm2\nExecStart=/usr/local/bin/pm2 resurrect\n\
         [Install]\nWantedBy=multi-user.target\n",
        0o644,
    );
    machine.install_pm2();
    // The incident's half-fix: unit written and enabled, daemon still from this shell.
    machine.sh(&format!(
        "export HOME=/root USER=root PATH=/usr/local/bin:/usr/bin:/bin
         cd /opt/my-app
         GREETING=hi pm2 start server.js --name web -- {port} >/dev/null
         pm2 startup systemd -u root --hp /root >/dev/null
         pm2 save >/dev/null"
    ));
    let out = machine.bootproof(&["facts", "--no-state"]);
    assert_exit(&out, 0);
    let facts: Value = serde_json::from_slice(&out.stdout).expect("facts are JSON");
    let unit_names: Vec<&str> =
        facts["units"].as_array().expect("units").iter().filter_map(|u| u["name"].as_str()).collect();
    assert!(!unit_names.iter().any(|name| name.starts_with("pm2-")), "pm2 units are not node services: {unit_names:?}");
    let home = |path: &str| -> Value {
        facts["pm2"]
            .as_array()
            .expect("homes")
            .iter()
            .find(|h| h["home"] == path)
            .cloned()
            .unwrap_or_else(|| panic!("no home {path}: {}", facts["pm2"]))
    };

    let root = home("/root/.pm2");
    assert!(
        root["found_by"].as_array().expect("found_by").iter().any(|how| how == "unit pm2-root.service"),
        "{}",
        root["found_by"]
    );
    let unit = &root["units"][0];
    assert_eq!(unit["name"], "pm2-root.service");
    let properties = &unit["properties"]["ok"];
    assert_eq!(properties["load_state"], "loaded", "{unit:#}");
    assert_eq!(properties["unit_file_state"], "enabled");
    assert_eq!(properties["active_state"], "inactive", "the daemon runs from a shell, not from the unit");
    assert!(unit["boot_chain"]["ok"].as_array().is_some_and(|chain| !chain.is_empty()));
    assert_eq!(root["daemon"]["rpc"]["ok"]["outcome"], "apps", "{}", root["daemon"]["rpc"]);
    assert_eq!(root["daemon"]["rpc"]["ok"]["apps"][0]["name"], "web");
    assert_eq!(root["dump"]["apps"]["ok"][0]["name"], "web");
    assert_eq!(root["daemon"]["version"], "7.0.4");

    let ghost = home("/srv/ghost/.pm2");
    assert_eq!(ghost["found_by"], serde_json::json!(["unit pm2-ghost.service"]));
    assert_eq!(ghost["units"][0]["properties"]["ok"]["unit_file_state"], "disabled");
    assert_eq!(ghost["daemon"]["rpc"]["ok"]["outcome"], "not-running");
    assert_eq!(ghost["dir"]["stat"]["ok"], Value::Null, "the home does not exist");
    // bootproof read the ghost home and made nothing there.
    machine.sh("test ! -e /srv/ghost");
}
