# ruff: noqa: E501 - catalogue rows: a Chinese character counts two columns, and a row split in two is harder to check
"""The coded vocabularies' labels in English and Simplified Chinese (the codes stay the contract's)."""

from __future__ import annotations

# vocabulary -> code -> (English, 简体中文). tests/unit/test_console_i18n.py holds every code of
# every vocabulary the console shows to labels in both languages.
CODES: dict[str, dict[str, tuple[str, str]]] = {
    "tumour_site": {
        "breast": ("Breast", "乳腺"), "lung": ("Lung", "肺"), "gastric": ("Stomach", "胃"),
        "colorectal": ("Colorectal", "结直肠"), "liver": ("Liver", "肝"), "pancreas": ("Pancreas", "胰腺"),
        "oesophagus": ("Oesophagus", "食管"), "nasopharynx": ("Nasopharynx", "鼻咽"),
        "head_neck": ("Head and neck", "头颈部"), "prostate": ("Prostate", "前列腺"), "cervix": ("Cervix", "宫颈"),
        "sarcoma": ("Sarcoma", "肉瘤"), "neuroendocrine": ("Neuroendocrine", "神经内分泌"), "brain": ("Brain", "脑"),
        "lymphoma": ("Lymphoma", "淋巴瘤"), "other": ("Other", "其他"),
    },
    "histology": {
        "adenocarcinoma": ("Adenocarcinoma", "腺癌"), "squamous_cell_carcinoma": ("Squamous cell carcinoma", "鳞状细胞癌"),
        "small_cell_carcinoma": ("Small cell carcinoma", "小细胞癌"), "ductal_carcinoma": ("Ductal carcinoma", "导管癌"),
        "lobular_carcinoma": ("Lobular carcinoma", "小叶癌"),
        "hepatocellular_carcinoma": ("Hepatocellular carcinoma", "肝细胞癌"),
        "urothelial_carcinoma": ("Urothelial carcinoma", "尿路上皮癌"), "glioma": ("Glioma", "胶质瘤"),
        "lymphoma": ("Lymphoma", "淋巴瘤"), "soft_tissue_sarcoma": ("Soft tissue sarcoma", "软组织肉瘤"),
        "bone_sarcoma": ("Bone sarcoma", "骨肉瘤"), "gist": ("GIST", "胃肠道间质瘤"),
        "neuroendocrine_tumour": ("Neuroendocrine tumour", "神经内分泌肿瘤"),
        "adenoid_cystic_carcinoma": ("Adenoid cystic carcinoma", "腺样囊性癌"),
        "mucoepidermoid_carcinoma": ("Mucoepidermoid carcinoma", "黏液表皮样癌"),
        "olfactory_neuroblastoma": ("Olfactory neuroblastoma", "嗅神经母细胞瘤"),
        "mucosal_melanoma": ("Mucosal melanoma", "黏膜黑色素瘤"), "other": ("Other or not known", "其他或不详"),
    },
    "stage_group": {"0": ("Stage 0", "0期"), "I": ("Stage I", "I期"), "II": ("Stage II", "II期"),
                    "III": ("Stage III", "III期"), "IV": ("Stage IV", "IV期"), "unknown": ("Not known", "不详")},
    "referral_reason": {
        "rare_tumour": ("Rare tumour", "罕见肿瘤"), "stage_borderline": ("Borderline stage", "分期处于临界"),
        "treatment_intent_dispute": ("Disputed treatment intent", "治疗目的存在争议"),
        "genomic_guided": ("Genomic question", "基因检测相关问题"),
        "expensive_treatment": ("Expensive treatment", "高费用治疗"), "other": ("Other", "其他"),
    },
    "record_kind": {
        "pathology_report": ("Pathology report", "病理报告"), "pathology_slides": ("Pathology slides", "病理切片"),
        "imaging": ("Imaging (DICOM)", "影像(DICOM)"), "genomic_report": ("Genomic report", "基因检测报告"),
        "treatment_history": ("Treatment history", "治疗史"), "oncologist_letter": ("Oncologist's letter", "肿瘤科医生信函"),
        "question": ("The patient's question", "患者的问题"),
    },
    "question_topic": {
        "proton_therapy": ("Proton therapy", "质子治疗"), "surgery_vs_radiation": ("Surgery or radiation", "手术或放疗"),
        "systemic_therapy_choice": ("Choice of systemic therapy", "全身治疗方案选择"),
        "clinical_trial": ("Clinical trial", "临床试验"), "staging": ("Staging", "分期"), "diagnosis": ("Diagnosis", "诊断"),
        "integrative_oncology": ("Integrative oncology", "中西医结合肿瘤治疗"), "other": ("Other", "其他"),
    },
    "decline_reason": {
        "outside_expertise": ("Outside our expertise", "超出本中心专长"), "at_capacity": ("At capacity", "本中心已满负荷"),
        "records_insufficient": ("Records insufficient", "资料不足"),
        "conflict_of_interest": ("Conflict of interest", "存在利益冲突"), "other": ("Other", "其他"),
        "no_answer": ("No answer in time", "未在期限内答复"),
        "reassigned_by_coordinator": ("Re-routed by the coordinator", "协调员已改派"),
    },
    "information_topic": {
        "additional_imaging": ("Additional imaging", "补充影像"), "pathology_blocks": ("Pathology blocks", "病理蜡块"),
        "recut_slides": ("Re-cut slides", "重新切片"), "genomic_results": ("Genomic results", "基因检测结果"),
        "treatment_details": ("Treatment details", "治疗详情"), "laboratory_results": ("Laboratory results", "化验结果"),
        "other": ("Other", "其他"),
    },
    "consent": {"health_data_processing": ("Processing of health data", "健康数据处理"),
                "transfer_abroad": ("Transfer abroad to named centres", "向指定中心跨境传输")},
    "cancellation_reason": {
        "patient_request": ("The patient asked", "患者要求"), "financial": ("Financial", "经济原因"),
        "treated_elsewhere": ("Treated elsewhere", "已在他处治疗"),
        "clinical_deterioration": ("Clinical deterioration", "病情恶化"),
        "patient_deceased": ("The patient died", "患者已故"), "other": ("Other", "其他"),
    },
    "outcome_change": {"concordant": ("Concordant", "一致"), "refined": ("Refined", "细化调整"),
                       "major_change": ("Major change", "重大改变")},
    "pathway": {
        "surgery": ("Surgery", "手术"), "radiotherapy": ("Radiotherapy", "放疗"), "proton_therapy": ("Proton therapy", "质子治疗"),
        "chemoradiation": ("Chemoradiation", "同步放化疗"), "systemic_therapy": ("Systemic therapy", "全身治疗"),
        "targeted_therapy": ("Targeted therapy", "靶向治疗"), "immunotherapy": ("Immunotherapy", "免疫治疗"),
        "clinical_trial": ("Clinical trial", "临床试验"), "surveillance": ("Surveillance", "随访观察"),
        "palliative_care": ("Palliative care", "姑息治疗"),
    },
    "treatment_type": {
        "proton_therapy": ("Proton therapy", "质子治疗"), "surgery": ("Surgery", "手术"),
        "chemoradiation": ("Chemoradiation", "同步放化疗"), "systemic_therapy": ("Systemic therapy", "全身治疗"),
        "trial_enrolment": ("Trial enrolment", "入组临床试验"), "radiotherapy": ("Radiotherapy", "放疗"),
    },
    "travel_reason": {
        "high_cost_therapy": ("High-cost therapy", "高费用治疗"), "early_phase_trial": ("Early-phase trial", "早期临床试验"),
        "insurer_does_not_cover": ("Insurer does not cover it", "保险不覆盖"),
        "one_programme": ("Diagnosis and treatment in one programme", "诊疗一体化"), "other": ("Other", "其他"),
    },
    "status": {
        "collecting_records": ("Collecting records", "收集资料中"), "ready_for_review": ("Ready for review", "待审阅"),
        "review_delivered": ("Review delivered", "已交付意见"), "treatment_booked": ("Treatment booked", "已预约治疗"),
        "closed": ("Closed: returned home", "已结案:回国治疗"), "cancelled": ("Cancelled", "已取消"),
        "withdrawn": ("Withdrawn", "已撤回"), "expired": ("Expired", "已过期"), "erased": ("Erased", "已删除"),
        "declined_by_all_centres": ("Declined by every centre", "所有中心均已拒绝"),
    },
    "party": {"patient": ("The patient", "患者"), "centre": ("The centre", "中心"),
              "coordinator": ("A coordinator", "协调员"), "billing": ("Billing", "财务"), "nobody": ("Nobody", "无")},
    "sla_state": {
        "not_started": ("Not started", "未开始"), "on_track": ("On track", "正常"), "at_risk": ("At risk", "有超时风险"),
        "breached": ("Breached", "已超时"), "paused": ("Paused", "已暂停"), "calendar_unknown": ("Calendar unknown", "日历未知"),
        "stopped": ("Stopped", "已停止"), "delivered_on_time": ("Delivered on time", "按时交付"),
        "delivered_late": ("Delivered late", "逾期交付"),
    },
    "review_state": {
        "assigned": ("Offered", "待接受"), "accepted": ("Accepted", "已接受"), "declined": ("Declined", "已拒绝"),
        "awaiting_information": ("Waiting for information", "等待补充资料"), "delivered": ("Delivered", "已交付"),
        "answering_follow_up": ("Follow-up open", "追问待回答"),
    },
    "pathology_verdict": {"agree": ("Agree", "同意原诊断"), "revised_grade": ("Revised grade", "修订分级"),
                          "revised_histology": ("Revised histology", "修订组织学类型")},
    "imaging_verdict": {"stage_confirmed": ("Stage confirmed", "分期确认"), "stage_revised": ("Stage revised", "分期修订")},
    "question_answer": {"answered": ("Answered", "已回答"), "answered_with_caveats": ("Answered with caveats", "有保留地回答"),
                        "needs_further_tests": ("Needs further tests", "需进一步检查")},
    "follow_up_state": {"open": ("Open", "待回答"), "at_risk": ("At risk", "有超时风险"), "breached": ("Breached", "已超时"),
                        "answered_on_time": ("Answered on time", "按时回答"), "answered_late": ("Answered late", "逾期回答")},
    "scope": {"open": ("Open cases", "进行中的病例"), "ended": ("Ended cases", "已结束的病例"), "all": ("All cases", "全部病例")},
}
