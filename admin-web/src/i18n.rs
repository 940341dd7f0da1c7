//! English and Simplified Chinese texts. Every text is a field of `Texts`, so a string missing in one
//! language is a compile error rather than a blank on screen.

use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// `zh`, `zh-CN`, `zh-Hans`… choose Chinese; everything else English.
    pub fn from_tag(tag: &str) -> Lang {
        if tag.to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }
}

pub struct Texts {
    pub app_name: &'static str,
    pub nav_overview: &'static str,
    pub nav_requests: &'static str,
    pub sign_out: &'static str,
    pub language: &'static str,
    pub skip_to_content: &'static str,

    pub login_title: &'static str,
    pub login_hint: &'static str,
    pub login_token: &'static str,
    pub login_submit: &'static str,
    pub login_checking: &'static str,
    pub login_refused: &'static str,
    pub login_expired: &'static str,

    pub loading: &'static str,
    pub error_title: &'static str,
    pub retry: &'static str,
    pub network_error: &'static str,
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,

    pub range_24h: &'static str,
    pub range_7d: &'static str,
    pub range_30d: &'static str,
    pub range_all: &'static str,
    pub range_label: &'static str,

    pub card_requests: &'static str,
    pub card_messages: &'static str,
    pub card_tokens: &'static str,
    pub card_prompt: &'static str,
    pub card_completion: &'static str,
    pub card_avg_latency: &'static str,
    pub card_p95: &'static str,
    pub card_error_rate: &'static str,
    pub card_errors: &'static str,
    pub card_cancelled: &'static str,
    pub recent_requests: &'static str,
    pub all_requests: &'static str,
    pub per_model: &'static str,
    pub tokens_over_time: &'static str,
    pub no_requests: &'static str,
    pub no_usage: &'static str,
    pub other_models: &'static str,

    pub col_time: &'static str,
    pub col_model: &'static str,
    pub col_stream: &'static str,
    pub col_status: &'static str,
    pub col_tokens: &'static str,
    pub col_latency: &'static str,
    pub col_last_message: &'static str,
    pub col_requests: &'static str,
    pub col_prompt: &'static str,
    pub col_completion: &'static str,
    pub col_total: &'static str,
    pub col_avg_latency: &'static str,
    pub col_errors: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub no_model: &'static str,

    pub outcome_ok: &'static str,
    pub outcome_error: &'static str,
    pub outcome_cancelled: &'static str,

    pub filter_model: &'static str,
    pub filter_outcome: &'static str,
    pub filter_stream: &'static str,
    pub filter_from: &'static str,
    pub filter_to: &'static str,
    pub filter_search: &'static str,
    pub filter_search_hint: &'static str,
    pub filter_any: &'static str,
    pub filter_streamed: &'static str,
    pub filter_not_streamed: &'static str,
    pub filter_apply: &'static str,
    pub filter_clear: &'static str,
    pub page_size: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub page_position: fn(i64, i64) -> String,
    pub go: &'static str,
    pub jump_label: &'static str,
    pub total_count: fn(&str) -> String,
    pub no_matches: &'static str,

    pub detail_title: &'static str,
    pub detail_missing: &'static str,
    pub back_to_list: &'static str,
    pub meta_id: &'static str,
    pub meta_endpoint: &'static str,
    pub meta_started: &'static str,
    pub meta_finished: &'static str,
    pub meta_latency: &'static str,
    pub meta_ttfb: &'static str,
    pub meta_client: &'static str,
    pub meta_user_agent: &'static str,
    pub meta_conversation: &'static str,
    pub meta_body_sha: &'static str,
    pub meta_error: &'static str,
    pub usage_title: &'static str,
    pub usage_cached: &'static str,
    pub usage_source: &'static str,
    pub source_upstream: &'static str,
    pub source_estimated: &'static str,
    pub source_none: &'static str,
    pub conversation_title: &'static str,
    pub no_messages: &'static str,
    pub system_prompt: &'static str,
    pub characters: &'static str,
    pub show_more: &'static str,
    pub show_less: &'static str,
    pub tool_call: &'static str,
    pub tool_result_for: &'static str,
    pub reply_title: &'static str,
    pub finish_reason: &'static str,
    pub no_reply: &'static str,
    pub raw_request: &'static str,
    pub raw_response: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
}

pub static EN: Texts = Texts {
    app_name: "TokenSlipper",
    nav_overview: "Overview",
    nav_requests: "Requests",
    sign_out: "Sign out",
    language: "Language",
    skip_to_content: "Skip to content",

    login_title: "Sign in",
    login_hint: "Enter the admin token. It is printed in the admin service's log at startup, or set as ADMIN_TOKEN.",
    login_token: "Admin token",
    login_submit: "Sign in",
    login_checking: "Checking…",
    login_refused: "This token was refused.",
    login_expired: "Your session ended: the token was refused. Sign in again.",

    loading: "Loading…",
    error_title: "Something went wrong",
    retry: "Retry",
    network_error: "The admin API could not be reached",
    not_found_title: "Page not found",
    not_found_body: "There is nothing at this address.",

    range_24h: "24 h",
    range_7d: "7 days",
    range_30d: "30 days",
    range_all: "All time",
    range_label: "Time range",

    card_requests: "Requests",
    card_messages: "Messages",
    card_tokens: "Tokens",
    card_prompt: "prompt",
    card_completion: "completion",
    card_avg_latency: "Average response time",
    card_p95: "p95",
    card_error_rate: "Error rate",
    card_errors: "errors",
    card_cancelled: "cancelled",
    recent_requests: "Latest requests",
    all_requests: "All requests →",
    per_model: "By model",
    tokens_over_time: "Tokens over time",
    no_requests: "No requests in this time range.",
    no_usage: "No token usage in this time range.",
    other_models: "other",

    col_time: "Time",
    col_model: "Model (client → upstream)",
    col_stream: "Stream",
    col_status: "Status",
    col_tokens: "Tokens (prompt / completion)",
    col_latency: "Latency",
    col_last_message: "Last user message",
    col_requests: "Requests",
    col_prompt: "Prompt",
    col_completion: "Completion",
    col_total: "Total",
    col_avg_latency: "Avg latency",
    col_errors: "Errors",
    yes: "yes",
    no: "no",
    no_model: "(none)",

    outcome_ok: "ok",
    outcome_error: "error",
    outcome_cancelled: "cancelled",

    filter_model: "Model",
    filter_outcome: "Outcome",
    filter_stream: "Stream",
    filter_from: "From",
    filter_to: "To",
    filter_search: "Search",
    filter_search_hint: "words in the conversation or reply",
    filter_any: "any",
    filter_streamed: "streamed",
    filter_not_streamed: "not streamed",
    filter_apply: "Apply",
    filter_clear: "Clear",
    page_size: "Per page",
    previous: "← Previous",
    next: "Next →",
    page_position: |page, pages| format!("Page {page} of {pages}"),
    go: "Go",
    jump_label: "Go to page",
    total_count: |n| if n == "1" { "1 request".to_owned() } else { format!("{n} requests") },
    no_matches: "No requests match these filters.",

    detail_title: "Request",
    detail_missing: "No request with this id was recorded.",
    back_to_list: "← Requests",
    meta_id: "Id",
    meta_endpoint: "Endpoint",
    meta_started: "Started",
    meta_finished: "Finished",
    meta_latency: "Latency",
    meta_ttfb: "Time to first byte",
    meta_client: "Client IP",
    meta_user_agent: "User agent",
    meta_conversation: "Conversation",
    meta_body_sha: "Body SHA-256",
    meta_error: "Error",
    usage_title: "Token usage",
    usage_cached: "Cached",
    usage_source: "Source",
    source_upstream: "reported by the upstream",
    source_estimated: "estimated locally",
    source_none: "not reported",
    conversation_title: "Conversation",
    no_messages: "This request carried no messages.",
    system_prompt: "System prompt",
    characters: "characters",
    show_more: "Show all",
    show_less: "Show less",
    tool_call: "Tool call",
    tool_result_for: "Result of",
    reply_title: "Reply",
    finish_reason: "Finish reason",
    no_reply: "No reply was recorded.",
    raw_request: "Raw request JSON",
    raw_response: "Raw response JSON",
    copy: "Copy",
    copied: "Copied",
};

pub static ZH: Texts = Texts {
    app_name: "TokenSlipper",
    nav_overview: "概览",
    nav_requests: "请求",
    sign_out: "退出",
    language: "语言",
    skip_to_content: "跳到内容",

    login_title: "登录",
    login_hint: "请输入管理令牌。它在管理服务启动时打印在日志中，或通过 ADMIN_TOKEN 设置。",
    login_token: "管理令牌",
    login_submit: "登录",
    login_checking: "正在验证…",
    login_refused: "令牌无效。",
    login_expired: "会话已结束：令牌被拒绝，请重新登录。",

    loading: "加载中…",
    error_title: "出错了",
    retry: "重试",
    network_error: "无法连接管理 API",
    not_found_title: "页面不存在",
    not_found_body: "此地址没有内容。",

    range_24h: "24 小时",
    range_7d: "7 天",
    range_30d: "30 天",
    range_all: "全部",
    range_label: "时间范围",

    card_requests: "请求数",
    card_messages: "消息数",
    card_tokens: "Token 数",
    card_prompt: "输入",
    card_completion: "输出",
    card_avg_latency: "平均响应时间",
    card_p95: "p95",
    card_error_rate: "错误率",
    card_errors: "个错误",
    card_cancelled: "个取消",
    recent_requests: "最近的请求",
    all_requests: "全部请求 →",
    per_model: "按模型",
    tokens_over_time: "Token 用量趋势",
    no_requests: "此时间范围内没有请求。",
    no_usage: "此时间范围内没有 Token 用量。",
    other_models: "其他",

    col_time: "时间",
    col_model: "模型（客户端 → 上游）",
    col_stream: "流式",
    col_status: "状态",
    col_tokens: "Token（输入 / 输出）",
    col_latency: "耗时",
    col_last_message: "最后一条用户消息",
    col_requests: "请求数",
    col_prompt: "输入",
    col_completion: "输出",
    col_total: "合计",
    col_avg_latency: "平均耗时",
    col_errors: "错误",
    yes: "是",
    no: "否",
    no_model: "（无）",

    outcome_ok: "成功",
    outcome_error: "错误",
    outcome_cancelled: "已取消",

    filter_model: "模型",
    filter_outcome: "结果",
    filter_stream: "流式",
    filter_from: "开始日期",
    filter_to: "结束日期",
    filter_search: "搜索",
    filter_search_hint: "对话或回复中的词",
    filter_any: "全部",
    filter_streamed: "流式",
    filter_not_streamed: "非流式",
    filter_apply: "应用",
    filter_clear: "清除",
    page_size: "每页",
    previous: "← 上一页",
    next: "下一页 →",
    page_position: |page, pages| format!("第 {page} 页，共 {pages} 页"),
    go: "跳转",
    jump_label: "跳转到页码",
    total_count: |n| format!("共 {n} 条请求"),
    no_matches: "没有符合条件的请求。",

    detail_title: "请求",
    detail_missing: "没有记录此 id 的请求。",
    back_to_list: "← 请求列表",
    meta_id: "Id",
    meta_endpoint: "接口",
    meta_started: "开始时间",
    meta_finished: "结束时间",
    meta_latency: "耗时",
    meta_ttfb: "首字节时间",
    meta_client: "客户端 IP",
    meta_user_agent: "User agent",
    meta_conversation: "会话",
    meta_body_sha: "请求体 SHA-256",
    meta_error: "错误",
    usage_title: "Token 用量",
    usage_cached: "缓存",
    usage_source: "来源",
    source_upstream: "上游报告",
    source_estimated: "本地估算",
    source_none: "未报告",
    conversation_title: "对话",
    no_messages: "此请求不含消息。",
    system_prompt: "系统提示词",
    characters: "字符",
    show_more: "展开全部",
    show_less: "收起",
    tool_call: "工具调用",
    tool_result_for: "工具结果：",
    reply_title: "回复",
    finish_reason: "结束原因",
    no_reply: "没有记录到回复。",
    raw_request: "原始请求 JSON",
    raw_response: "原始响应 JSON",
    copy: "复制",
    copied: "已复制",
};

/// The chosen language, shared through context.
#[derive(Clone, Copy)]
pub struct Language(pub RwSignal<Lang>);

/// The texts of the current language; reading it inside a view makes that view follow a switch.
pub fn use_texts() -> impl Fn() -> &'static Texts + Copy {
    let Language(lang) = expect_context::<Language>();
    move || lang.get().texts()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_tags_choose_chinese_and_others_english() {
        for tag in ["zh", "zh-CN", "zh-Hans-CN", "ZH-tw"] {
            assert_eq!(Lang::from_tag(tag), Lang::Zh, "{tag}");
        }
        for tag in ["en-US", "de", "", "x-zh"] {
            assert_eq!(Lang::from_tag(tag), Lang::En, "{tag}");
        }
    }
}
