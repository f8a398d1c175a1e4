// The desktop's words, in Mandarin (the default) and English, and how screen data reads:
// field names as words ("贵宾等级", "VIP tier"), known values translated ("普通话", "Gold").
// No build step: an ES module the desktop imports.

const WORDS = {
  zh: {
    title: "坐席工作台", login: "登录", extension: "分机号", password: "密码", logout: "退出",
    ready: "就绪", not_ready: "未就绪", reason: "原因", after_call: "本次通话后转为未就绪",
    waiting_title: "等待来电", waiting_text: "点击「就绪」开始接听。来电时，客户资料会显示在这里。",
    queues: "队列", queue: "队列", waiting: "等待", longest: "最长等待", service_level: "服务水平",
    call: "来电", consultation: "咨询", hang_up: "挂断", hold: "保持", resume: "恢复", mute: "静音",
    web_chat: "在线聊天", answer_chat: "接入聊天", send_chat: "发送", incoming_chat: "新的在线聊天",
    chat_ended: "聊天已结束", customer: "客户", agent_says: "坐席",
    unmute: "取消静音", keypad: "拨号盘", transfer: "转接", consult: "咨询转接", to: "转接到",
    target_queue: "队列", target_agent: "坐席", target_number: "号码", target_placeholder: "vip / 8002 / 95500",
    complete: "完成转接", conference: "三方通话", drop_consult: "挂断被咨询方", leave: "离开",
    wrapup: "话后处理", disposition: "处理结果", notes: "备注", ready_next: "准备接听下一个来电",
    save: "保存", wrapup_ends: "话后处理剩余", seconds: "秒", extend: "延长 30 秒", stay_not_ready: "保持未就绪",
    caller_data: "客户资料与语音导航记录", call_id: "通话编号", other_party: "第三方",
    ringing: "振铃中", talking: "通话中", held: "保持中", muted: "已静音", consulting: "咨询中",
    in_conference: "三方通话中", consulted_by: "咨询发起人", transferred_by: "转接自", language: "语言",
    incoming: "新来电", incoming_transfer: "转接来电", incoming_consult: "咨询请求", saved: "处理结果已保存",
    hung_up: "已挂断", transferred: "已转接", call_ended: "通话结束", disconnected: "连接已断开：通话不受影响，请刷新页面重新连接。",
    session_ended: "登录已过期，请重新登录。", locked: "登录失败次数过多，分机已锁定，请 {minutes} 分钟后再试。",
    auth_failed: "分机号或密码错误。", err_unavailable: "登录服务暂时不可用，请稍后再试。", for_call: "对应通话",
    // states and reasons
    state_ready: "就绪", state_not_ready: "未就绪", state_reserved: "振铃中", state_on_call: "通话中",
    state_wrap_up: "话后处理", state_logged_out: "已登出",
    reason_break: "休息", reason_training: "培训", reason_back_office: "后台事务", reason_no_answer: "未接听",
    reason_desktop_closed: "工作台已关闭",
    outcome_completed: "通话结束", outcome_abandoned: "客户已挂机", outcome_no_answer: "未接听",
    outcome_busy: "忙线", outcome_failed: "呼叫失败", outcome_timeout: "等待超时", outcome_no_agents: "无坐席",
    outcome_transferred: "已转接", outcome_consult_ended: "咨询结束",
    disp_resolved: "已解决", disp_follow_up: "需跟进", disp_transferred: "已转接", disp_complaint: "投诉",
    disp_wrong_number: "打错电话",
    // errors by code
    err_unknown_queue: "没有这个队列。", err_unknown_agent: "没有这个坐席。", err_transfer_failed: "无法转接：{message}",
    err_bad_state: "当前状态不能这样操作：{message}", err_not_your_call: "这不是您的通话。",
    err_no_such_customer: "本机构没有这个资金账号的客户。", err_unavailable: "本工作台不提供客户历史。",
    err_no_such_call: "通话已结束。", err_bad_field: "输入有误：{message}",
    // flows and orders
    send_to_flow: "转入自助流程（完成后自动转回）", sent_to_flow: "客户已转入自助流程", in_flow: "自助流程中",
    in_flow_now: "客户正在：{flow}，完成后自动转回您的电话。", back_from_flow: "客户已从自助流程转回",
    flow_done: "完成", flow_failed: "流程出错", flow_hung_up: "客户已挂机", flow_finished: "流程已结束通话",
    order_form: "代客委托", order_code: "证券代码", order_lookup: "查询", order_side: "买卖方向",
    side_buy: "买入", side_sell: "卖出", order_qty: "数量（股）", order_price: "价格（元）",
    order_check: "核对并复述", order_readback: "请向客户复述：", order_place_agent: "客户已口头确认，下单",
    order_readback_flow: "由系统复述，客户按键确认", order_place_ivr: "客户已按键确认，下单",
    order_code_hint: "请输入六位证券代码。", order_last: "最新价", order_limits: "跌停–涨停",
    order_suspended: "停牌", order_verified: "身份已验证", order_not_verified: "身份未验证：请先转入交易密码验证",
    order_no_account: "没有资金账号：请转入交易密码验证，由客户输入账号。",
    order_placed: "委托已受理，委托编号 {order_no}。", order_refused: "委托未能受理：{reason}",
    order_placed_short: "委托已受理", order_refused_short: "委托未能受理",
    order_not_recorded: "（通话记录未能写入，请告知主管）",
    err_unknown_flow: "没有这个自助流程。", err_flow_refused: "无法转入该流程：{message}",
    err_unknown_code: "证券代码不存在。", err_not_verified: "客户身份未验证：请先转入交易密码验证。",
    err_not_read_back: "请先核对并向客户复述这笔委托。", err_not_confirmed: "客户尚未按键确认这笔委托。",
    err_no_account: "没有资金账号：请转入交易密码验证。", err_back_office: "后台暂时无法处理：{message}",
    err_outcome_unknown: "委托结果未知：请用同一表单再次下单（不会重复下单），或先查询委托。",
    err_no_order_form: "本工作台不受理委托。",
  },
  en: {
    title: "Agent desktop", login: "Log in", extension: "Extension", password: "Password", logout: "Log out",
    ready: "Ready", not_ready: "Not ready", reason: "Reason", after_call: "Not ready after this call",
    waiting_title: "Waiting for calls", waiting_text: "Click Ready to take calls. The customer's details appear here when a call comes.",
    queues: "Queues", queue: "Queue", waiting: "Waiting", longest: "Longest", service_level: "Service level",
    call: "Call", consultation: "Consultation", hang_up: "Hang up", hold: "Hold", resume: "Resume", mute: "Mute",
    web_chat: "Web chat", answer_chat: "Answer the chat", send_chat: "Send", incoming_chat: "Incoming chat",
    chat_ended: "Chat ended", customer: "Customer", agent_says: "Agent",
    unmute: "Unmute", keypad: "Keypad", transfer: "Transfer", consult: "Consult", to: "Transfer to",
    target_queue: "Queue", target_agent: "Agent", target_number: "Number", target_placeholder: "vip / 8002 / 95500",
    complete: "Complete transfer", conference: "Conference", drop_consult: "Hang up consulted party", leave: "Leave",
    wrapup: "Wrap-up", disposition: "Disposition", notes: "Notes", ready_next: "Ready for the next call",
    save: "Save", wrapup_ends: "Wrap-up ends in", seconds: "s", extend: "30 s more", stay_not_ready: "Stay not ready",
    caller_data: "Customer and IVR journey", call_id: "Call id", other_party: "Third party",
    ringing: "Ringing", talking: "Talking", held: "On hold", muted: "Muted", consulting: "Consulting",
    in_conference: "Conference", consulted_by: "Consultation from", transferred_by: "Transferred by", language: "Language",
    incoming: "Incoming call", incoming_transfer: "Transferred call", incoming_consult: "Consultation request",
    saved: "Disposition saved", hung_up: "Hung up", transferred: "Transferred", call_ended: "Call ended",
    disconnected: "Disconnected: your calls go on. Reload to reconnect.",
    session_ended: "Your login has expired. Please log in again.",
    locked: "Too many failed logins: this extension is locked. Try again in {minutes} minutes.",
    auth_failed: "Unknown extension or wrong password.",
    err_unavailable: "Logging in is unavailable for a moment. Try again shortly.", for_call: "For call",
    state_ready: "Ready", state_not_ready: "Not ready", state_reserved: "Ringing", state_on_call: "On call",
    state_wrap_up: "Wrap-up", state_logged_out: "Logged out",
    reason_break: "Break", reason_training: "Training", reason_back_office: "Back office", reason_no_answer: "Missed a call",
    reason_desktop_closed: "Desktop closed",
    outcome_completed: "Call ended", outcome_abandoned: "The caller hung up", outcome_no_answer: "Not answered",
    outcome_busy: "Busy", outcome_failed: "Call failed", outcome_timeout: "Waited too long", outcome_no_agents: "No agents",
    outcome_transferred: "Transferred", outcome_consult_ended: "Consultation ended",
    disp_resolved: "Resolved", disp_follow_up: "Needs follow-up", disp_transferred: "Transferred", disp_complaint: "Complaint",
    disp_wrong_number: "Wrong number",
    err_unknown_queue: "There is no such queue.", err_unknown_agent: "There is no such agent.",
    err_transfer_failed: "Cannot transfer: {message}", err_bad_state: "Not possible now: {message}",
    err_not_your_call: "That is not your call.", err_no_such_call: "The call has ended.", err_bad_field: "Please check: {message}",
    err_no_such_customer: "No customer here has this account number.", err_unavailable: "This desk has no customer history.",
    send_to_flow: "Send the caller into (and back)", sent_to_flow: "The caller is in the flow", in_flow: "In a flow",
    in_flow_now: "The caller is in: {flow}. They come back to your phone when it ends.", back_from_flow: "The caller is back",
    flow_done: "done", flow_failed: "the flow failed", flow_hung_up: "the caller hung up", flow_finished: "the flow ended the call",
    order_form: "Order for the caller", order_code: "Security code", order_lookup: "Look up", order_side: "Side",
    side_buy: "Buy", side_sell: "Sell", order_qty: "Quantity (shares)", order_price: "Price (yuan)",
    order_check: "Check and read back", order_readback: "Read this back to the caller:",
    order_place_agent: "Caller confirmed by voice: place", order_readback_flow: "System reads it back, caller confirms by key",
    order_place_ivr: "Caller confirmed by key: place", order_code_hint: "Enter a six-digit code.", order_last: "last",
    order_limits: "limits", order_suspended: "suspended", order_verified: "identity verified",
    order_not_verified: "identity not verified: send the caller into the PIN check first",
    order_no_account: "No account: send the caller into the PIN check, which asks for it.",
    order_placed: "Order accepted, order number {order_no}.", order_refused: "Order not accepted: {reason}",
    order_placed_short: "Order accepted", order_refused_short: "Order not accepted",
    order_not_recorded: "(The call record could not be written: tell your supervisor.)",
    err_unknown_flow: "There is no such flow.", err_flow_refused: "Cannot send the caller there: {message}",
    err_unknown_code: "There is no security with that code.",
    err_not_verified: "The caller's identity is not verified: send them into the PIN check first.",
    err_not_read_back: "Check the order and read it back to the caller first.",
    err_not_confirmed: "The caller has not confirmed this order by key.",
    err_no_account: "No account: send the caller into the PIN check.", err_back_office: "The back office cannot answer: {message}",
    err_outcome_unknown: "The order's outcome is unknown: place it again with the same form (never twice), or look it up first.",
    err_no_order_form: "This desk takes no orders.",
  },
};

// Field names of the screen pop, as words.
const FIELDS = {
  zh: {
    customer: "客户姓名", account: "资金账号", vip_tier: "贵宾等级", language: "通话语言", verified: "身份验证",
    ivr_path: "语音导航路径", caller: "来电号码", dialed: "拨入号码", queue: "队列", reason: "来电事由",
    intent: "客户诉求", transferred_from: "转接自坐席", balance: "余额", number: "号码", tier: "等级",
    vip: "贵宾", name: "姓名", last4: "卡号后四位", verified_account: "已验证账号", confirmed: "客户已确认",
    score: "评分", channel: "接入渠道",
  },
  en: {
    customer: "Customer", account: "Account", vip_tier: "VIP tier", language: "Language", verified: "Identity verified",
    ivr_path: "IVR path", caller: "Caller", dialed: "Number dialled", queue: "Queue", reason: "Reason for calling",
    intent: "Request", transferred_from: "Transferred from agent", balance: "Balance", number: "Number", tier: "Tier",
    vip: "VIP", name: "Name", last4: "Last four digits", verified_account: "Verified account", confirmed: "Confirmed",
    score: "Score", channel: "Channel",
  },
};

const VALUES = {
  zh: {
    language: { zh: "普通话", en: "英语" },
    vip_tier: { gold: "金卡", platinum: "白金卡", silver: "银卡", diamond: "钻石卡", standard: "普通" },
    reason: { complaint: "投诉", consulting: "业务咨询", order: "委托", help: "人工服务" },
    channel: { phone: "电话", outbound: "外呼", chat: "在线客服", sms: "短信" },
  },
  en: {
    language: { zh: "Mandarin", en: "English" },
    vip_tier: { gold: "Gold", platinum: "Platinum", silver: "Silver", diamond: "Diamond", standard: "Standard" },
    reason: { complaint: "Complaint", consulting: "Information", order: "Order", help: "Agent" },
    channel: { phone: "Phone", outbound: "Outbound call", chat: "Web chat", sms: "SMS" },
  },
};
const ACRONYMS = new Set(["vip", "ivr", "id", "sms", "ip"]);

export let language = "zh";

export function setLanguage(code) {
  language = code in WORDS ? code : "zh";
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  for (const element of document.querySelectorAll("[data-i18n-placeholder]")) {
    element.placeholder = t(element.dataset.i18nPlaceholder);
  }
  document.title = t("title");
}

export function t(key, fields = {}) {
  const text = WORDS[language][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(fields[name] ?? ""));
}

/** A field name as words: known fields translated, others split (vip_tier -> "VIP tier"). */
export function fieldName(key) {
  const known = FIELDS[language][key];
  if (known) return known;
  const words = key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").split(/[_\s]+/).filter(Boolean);
  const text = words.map((w) => (ACRONYMS.has(w.toLowerCase()) ? w.toUpperCase() : w.toLowerCase())).join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A value as the agent reads it: known codes translated, yes/no, the IVR path as steps. */
export function fieldValue(key, value) {
  if (value === true || value === false) {
    if (key === "verified") return value ? (language === "zh" ? "已验证" : "Verified") : (language === "zh" ? "未验证" : "Not verified");
    return value ? (language === "zh" ? "是" : "Yes") : (language === "zh" ? "否" : "No");
  }
  if (key === "ivr_path" && Array.isArray(value)) return value.map(pathStep).join(" → ");
  if (Array.isArray(value)) return value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ");
  if (value === null || value === undefined || value === "") return "—";
  const table = VALUES[language][key];
  const text = String(value);
  return (table && table[text.toLowerCase()]) || text;
}

function pathStep(step) {
  // "main.main_menu:2" -> "main_menu 2"; a subflow's menus keep their flow: "account.account_menu 0"
  const [where, key] = String(step).split(":");
  const name = where.startsWith("main.") ? where.slice(5) : where;
  return key ? `${name} ${key}` : name;
}

export function stateName(state, reason) {
  const name = t(`state_${state}`);
  return reason ? `${name} · ${t(`reason_${reason}`)}` : name;
}

/** A server error in the agent's language (its message when there is no translation). */
export function errorText(error) {
  if (!error) return "";
  if (error.code === "locked") return t("locked", { minutes: Math.max(1, Math.ceil((error.retry_after || 60) / 60)) });
  if (error.code === "auth_failed") return t("auth_failed");
  const key = `err_${error.code}`;
  return WORDS[language][key] || WORDS.en[key] ? t(key, { message: error.message }) : error.message;
}
