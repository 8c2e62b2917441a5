"""The services' refusals in both languages, by their problem `code` (services/common/errors.Rejected).

An API explains a refusal in English; the console shows the person the same refusal in their
language when it knows the code, and the API's own words otherwise (a new code is then still
readable). A unit test holds every code a service raises to an entry here.
"""

from __future__ import annotations

from services.console.i18n_codes import CODES

PROBLEMS: dict[str, tuple[str, str]] = {
    "already_accepted": ("The case is already accepted.", "该病例已被接受。"),
    "already_booked": ("The treatment is already booked.", "治疗已预约。"),
    "already_captured": ("The payment is already captured.", "款项已收取。"),
    "already_declined": ("This centre already declined the case.", "本中心已拒绝该病例。"),
    "already_delivered": ("The review is already delivered.", "意见已交付。"),
    "already_received": ("This was already received.", "已收到。"),
    "already_redeemed": ("This quote was already used.", "该报价已被使用。"),
    "case_ended": ("The case has ended.", "该病例已结束。"),
    "case_not_open": ("The case is not open.", "该病例未处于开放状态。"),
    "centre_declined": ("That centre declined the case.", "该中心已拒绝此病例。"),
    "centre_not_consented": ("The patient has not consented to that centre.", "患者未同意向该中心传输资料。"),
    "centre_not_expected": ("That centre is not expected here.", "此处不应为该中心。"),
    "centre_required": ("Choose a centre.", "请选择一个中心。"),
    "declined": ("This centre declined the case.", "本中心已拒绝该病例。"),
    "duplicate_record": ("This file is already in the case.", "该文件已在病例中。"),
    "duplicate_shipment": ("This shipment is already recorded.", "该寄送已记录。"),
    "erased": ("The patient's data was erased.", "患者数据已删除。"),
    "follow_up_answered": ("This follow-up question is already answered.", "该追问已回答。"),
    "follow_up_limit": ("This case already had all its follow-up questions.", "该病例的追问次数已用完。"),
    "no_consent": ("A consent is missing.", "缺少知情同意。"),
    "no_fee_credit": ("No fee credit is owed.", "无应抵扣的费用。"),
    "no_open_request": ("No such information request is open.", "没有未完成的补充资料请求。"),
    "no_report": ("There is no report to amend.", "没有可修订的报告。"),
    "no_such_follow_up": ("No such follow-up question.", "没有该追问。"),
    "not_accepted": ("Accept the case first.", "请先接受该病例。"),
    "not_capturable": ("The payment cannot be captured now.", "目前无法收取款项。"),
    "not_delivered": ("A follow-up question follows the delivered review.", "追问须在意见交付之后。"),
    "not_simulated": ("Only a simulated payment can do this.", "只有模拟支付可执行此操作。"),
    "not_your_case": ("Another centre holds this case.", "该病例由其他中心负责。"),
    "nothing_missing": ("No record is missing.", "没有缺少的资料。"),
    "patient_erased": ("The patient's data was erased.", "患者数据已删除。"),
    "processing_stopped": ("Processing of this case has stopped.", "该病例的处理已停止。"),
    "request_open": ("An information request is already open.", "已有未完成的补充资料请求。"),
    "review_not_delivered": ("The review is not delivered yet.", "意见尚未交付。"),
    "same_centre": ("The case is already at that centre.", "该病例已在该中心。"),
    "unknown_shipment": ("No such shipment.", "没有该寄送记录。"),
    "video_not_requested": ("Request the video consultation first.", "请先申请视频会诊。"),
    "withdrawal_pending": ("The case is being withdrawn.", "该病例正在撤回。"),
    "video_transition": ("The video consultation cannot move to that step now.", "视频会诊目前无法进入该步骤。"),
    "idempotency_key_reused": ("This form was already sent with other answers: reload the page.",
                               "此表单已用其他内容提交过。请刷新页面。"),
    "version_conflict": ("The case changed meanwhile: look again and retry.", "病例已被更改。请查看后重试。"),
}

# An ended case refuses with "case_<its status>" (intake's domain._must_be_open).
PROBLEMS.update({f"case_{status}": (f"The case is {en.lower()}: this is no longer possible.",
                                    f"该病例状态为{zh}。此操作已无法进行。")
                 for status, (en, zh) in CODES["status"].items() if f"case_{status}" not in PROBLEMS})
