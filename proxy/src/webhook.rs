//! The alert a webhook receives. `generic` is JSON with the facts and a Slack-compatible `text`;
//! `feishu` and `dingtalk` are those bots' text-message shapes.

use serde_json::{json, Value};

use crate::db::budgets::DueAlert;

pub fn message(alert: &DueAlert) -> String {
    let (used, amount) = if alert.metric == "cost" {
        (format!("${:.2}", alert.used as f64 / 1e6), format!("${:.2}", alert.amount as f64 / 1e6))
    } else {
        (format!("{} tokens", alert.used), format!("{} tokens", alert.amount))
    };
    let mut scope = Vec::new();
    if let Some(model) = &alert.model {
        scope.push(format!("model {model}"));
    }
    if let Some(key) = &alert.client_key {
        scope.push(format!("client key {key}"));
    }
    let scope = if scope.is_empty() { String::new() } else { format!(" ({})", scope.join(", ")) };
    format!(
        "TokenSlipper budget \"{}\"{scope} reached {}% of its {} budget for the {} starting {}: {used} of {amount}.",
        alert.name,
        alert.threshold,
        if alert.metric == "cost" { "cost" } else { "token" },
        alert.period,
        alert.period_start.format("%Y-%m-%d"),
    )
}

pub fn payload(alert: &DueAlert) -> Value {
    let text = message(alert);
    match alert.webhook_format.as_str() {
        "feishu" => json!({"msg_type": "text", "content": {"text": text}}),
        "dingtalk" => json!({"msgtype": "text", "text": {"content": text}}),
        _ => json!({
            "text": text,
            "budget": {"name": alert.name, "metric": alert.metric, "period": alert.period,
                       "model": alert.model, "clientKey": alert.client_key, "amount": alert.amount},
            "threshold": alert.threshold,
            "used": alert.used,
            "periodStart": alert.period_start.and_utc().to_rfc3339(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(format: &str) -> DueAlert {
        DueAlert {
            id: 1,
            attempts: 0,
            period_start: "2026-11-01T00:00:00".parse().unwrap(),
            threshold: 80,
            used: 40_500_000,
            amount: 50_000_000,
            name: "team".into(),
            metric: "cost".into(),
            period: "month".into(),
            model: Some("claude-sonnet-4".into()),
            client_key: None,
            webhook_url: Some("http://hook".into()),
            webhook_format: format.into(),
        }
    }

    #[test]
    fn each_format_carries_the_same_text() {
        let text = "TokenSlipper budget \"team\" (model claude-sonnet-4) reached 80% of its cost budget for the month starting 2026-11-01: $40.50 of $50.00.";
        assert_eq!(payload(&alert("generic"))["text"], text);
        assert_eq!(payload(&alert("generic"))["threshold"], 80);
        assert_eq!(payload(&alert("feishu"))["content"]["text"], text);
        assert_eq!(payload(&alert("dingtalk"))["text"]["content"], text);
    }
}
