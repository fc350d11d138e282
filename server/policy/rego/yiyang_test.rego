# Unit tests of the default policy, run by `go test ./server/policy/`
# (TestRegoUnitTests) or `opa test server/policy/rego`.
package yiyang.authz_test

import rego.v1

import data.yiyang.authz

# --- helpers -------------------------------------------------------------

dec(roles, i, t) := d if {
	d := authz.decision with input as {
		"roles": roles, "interaction": i, "type": t,
		"security": [], "subject": "Practitioner/1",
	}
}

labelled(roles, i, t, labels) := d if {
	d := authz.decision with input as {
		"roles": roles, "interaction": i, "type": t,
		"security": labels, "subject": "Practitioner/1",
	}
}

glass(roles, i, t, labels, why) := d if {
	d := authz.decision with input as {
		"roles": roles, "interaction": i, "type": t,
		"security": labels, "subject": "Practitioner/1",
		"break_glass": {"reason": why},
	}
}

actcode := "http://terminology.hl7.org/CodeSystem/v3-ActCode"

confidentiality := "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"

psy := [{"system": actcode, "code": "PSY"}]

# Representative types and, per role and interaction class, the ones of
# them the role may use. Every other sample type must be denied.
sample := {
	"Patient", "Observation", "Condition", "MedicationRequest",
	"MedicationDispense", "CarePlan", "Task", "Device", "Claim", "Coverage",
	"AuditEvent", "Provenance", "Practitioner",
}

clinical := {
	"Patient", "Observation", "Condition", "MedicationRequest",
	"MedicationDispense", "CarePlan", "Task", "Device",
}

staff_reads := clinical | {"Provenance", "Practitioner"}

pharmacist_reads := {
	"Patient", "Observation", "Condition", "MedicationRequest",
	"MedicationDispense", "Practitioner",
}

auditor_reads := {"AuditEvent", "Provenance", "Claim", "Patient", "Practitioner"}

insurer_reads := {"Claim", "Coverage", "Condition", "Patient", "Practitioner"}

care_worker_reads := {"Patient", "CarePlan", "Observation", "Task", "Practitioner"}

expected := {
	"admin": {
		"read": sample, "search": sample,
		"create": sample - {"AuditEvent"},
		"update": sample - {"AuditEvent"},
		"delete": sample - {"AuditEvent"},
	},
	"doctor": {
		"read": staff_reads, "search": staff_reads,
		"create": clinical, "update": clinical, "delete": set(),
	},
	"nurse": {
		"read": staff_reads, "search": staff_reads,
		"create": {"Observation", "CarePlan", "Task"},
		"update": {"Observation", "CarePlan", "Task"},
		"delete": set(),
	},
	"pharmacist": {
		"read": pharmacist_reads, "search": pharmacist_reads,
		"create": {"MedicationDispense"},
		"update": {"MedicationDispense", "MedicationRequest"},
		"delete": set(),
	},
	"auditor": {
		"read": auditor_reads, "search": auditor_reads,
		"create": set(), "update": set(), "delete": set(),
	},
	"insurer": {
		"read": insurer_reads, "search": insurer_reads,
		"create": set(), "update": set(), "delete": set(),
	},
	"care-worker": {
		"read": care_worker_reads, "search": care_worker_reads,
		"create": {"Observation"}, "update": {"Task"}, "delete": set(),
	},
	"patient": {
		"read": clinical | {"Practitioner"}, "search": clinical | {"Practitioner"},
		"create": set(), "update": set(), "delete": set(),
	},
	"device": {
		"read": {"Device"}, "search": set(),
		"create": {"Observation"}, "update": {"Observation"}, "delete": set(),
	},
}

# matrix(role, class) holds when, for every sample type, the decision allows
# exactly the expected ones and every denial names role, interaction and type.
matrix(role, class) if {
	every t in sample {
		d := dec([role], class, t)
		d.allow == (t in expected[role][class])
		d.audit == false
		denial_names(d, role, class, t)
	}
}

denial_names(d, _, _, _) if d.allow

denial_names(d, role, class, t) if {
	not d.allow
	contains(d.reason, role)
	contains(d.reason, class)
	contains(d.reason, t)
}

# --- role × interaction class ----------------------------------------------

test_admin_read if matrix("admin", "read")

test_admin_search if matrix("admin", "search")

test_admin_create if matrix("admin", "create")

test_admin_update if matrix("admin", "update")

test_admin_delete if matrix("admin", "delete")

test_doctor_read if matrix("doctor", "read")

test_doctor_search if matrix("doctor", "search")

test_doctor_create if matrix("doctor", "create")

test_doctor_update if matrix("doctor", "update")

test_doctor_delete if matrix("doctor", "delete")

test_nurse_read if matrix("nurse", "read")

test_nurse_search if matrix("nurse", "search")

test_nurse_create if matrix("nurse", "create")

test_nurse_update if matrix("nurse", "update")

test_nurse_delete if matrix("nurse", "delete")

test_pharmacist_read if matrix("pharmacist", "read")

test_pharmacist_search if matrix("pharmacist", "search")

test_pharmacist_create if matrix("pharmacist", "create")

test_pharmacist_update if matrix("pharmacist", "update")

test_pharmacist_delete if matrix("pharmacist", "delete")

test_auditor_read if matrix("auditor", "read")

test_auditor_search if matrix("auditor", "search")

test_auditor_create if matrix("auditor", "create")

test_auditor_update if matrix("auditor", "update")

test_auditor_delete if matrix("auditor", "delete")

test_insurer_read if matrix("insurer", "read")

test_insurer_search if matrix("insurer", "search")

test_insurer_create if matrix("insurer", "create")

test_insurer_update if matrix("insurer", "update")

test_insurer_delete if matrix("insurer", "delete")

test_care_worker_read if matrix("care-worker", "read")

test_care_worker_search if matrix("care-worker", "search")

test_care_worker_create if matrix("care-worker", "create")

test_care_worker_update if matrix("care-worker", "update")

test_care_worker_delete if matrix("care-worker", "delete")

test_patient_read if matrix("patient", "read")

test_patient_search if matrix("patient", "search")

test_patient_create if matrix("patient", "create")

test_patient_update if matrix("patient", "update")

test_patient_delete if matrix("patient", "delete")

test_device_read if matrix("device", "read")

test_device_search if matrix("device", "search")

test_device_create if matrix("device", "create")

test_device_update if matrix("device", "update")

test_device_delete if matrix("device", "delete")

# Every role and class has an expectation: the matrix above is complete.
test_matrix_complete if {
	roles := {"admin", "doctor", "nurse", "pharmacist", "auditor", "insurer", "care-worker", "patient", "device"}
	every r in roles {
		every c in {"read", "search", "create", "update", "delete"} {
			is_set(expected[r][c])
		}
	}
}

# --- interactions and roles ------------------------------------------------

test_interaction_aliases if {
	dec(["doctor"], "vread", "Observation").allow
	dec(["doctor"], "history-instance", "Observation").allow
	dec(["doctor"], "history-type", "Observation").allow
	dec(["doctor"], "search-type", "Observation").allow
	dec(["doctor"], "patch", "Observation").allow
	not dec(["auditor"], "patch", "Claim").allow
}

test_operation_needs_read if {
	dec(["doctor"], "operation", "Patient").allow
	not dec(["device"], "operation", "Patient").allow
}

test_system_level_admin_only if {
	dec(["admin"], "search-system", "").allow
	dec(["admin"], "history-system", "").allow
	d := dec(["doctor"], "search-system", "")
	not d.allow
	d.reason == "role(s) doctor may not search-system the system"
}

test_unknown_interaction_denied if {
	d := dec(["admin"], "frobnicate", "Patient")
	not d.allow
	d.reason == "unknown interaction \"frobnicate\""
}

test_no_roles_denied if {
	d := dec([], "read", "Patient")
	not d.allow
	d.reason == "a request without roles may not read Patient"
}

test_unknown_role_denied if not dec(["janitor"], "read", "Patient").allow

test_roles_combine if {
	d := dec(["pharmacist", "nurse"], "update", "CarePlan")
	d.allow
	d.reason == "allowed"
	dec(["pharmacist", "nurse"], "create", "MedicationDispense").allow
	d2 := dec(["pharmacist", "nurse"], "delete", "Observation")
	not d2.allow
	d2.reason == "role(s) pharmacist, nurse may not delete Observation"
}

test_nurse_other_writes if {
	every t in {"MedicationAdministration", "Procedure", "Goal", "Communication", "QuestionnaireResponse", "DocumentReference"} {
		dec(["nurse"], "create", t).allow
	}
	not dec(["nurse"], "create", "MedicationRequest").allow
	not dec(["nurse"], "create", "Condition").allow
}

test_insurer_financial if {
	every t in {"ClaimResponse", "ExplanationOfBenefit", "Encounter", "Procedure"} {
		dec(["insurer"], "read", t).allow
	}
	not dec(["insurer"], "read", "Observation").allow
}

test_pharmacist_no_medication_request_create if {
	not dec(["pharmacist"], "create", "MedicationRequest").allow
	dec(["pharmacist"], "read", "AllergyIntolerance").allow
	dec(["pharmacist"], "read", "Medication").allow
}

# --- AuditEvent ------------------------------------------------------------

test_audit_event_immutable if {
	every role in {"admin", "doctor", "auditor", "device"} {
		every i in {"create", "update", "patch", "delete"} {
			d := dec([role], i, "AuditEvent")
			not d.allow
			contains(d.reason, "written only by the server")
		}
	}
}

test_audit_event_readable_by_auditor_and_admin if {
	dec(["auditor"], "read", "AuditEvent").allow
	dec(["admin"], "search", "AuditEvent").allow
	not dec(["doctor"], "read", "AuditEvent").allow
}

# --- sensitive resources ---------------------------------------------------

test_sensitive_denied_without_permission if {
	d := labelled(["doctor"], "read", "Condition", psy)
	not d.allow
	d.audit
	d.reason == "role(s) doctor may not read sensitive Condition without sensitive-access or break-the-glass"
}

test_sensitive_admin_needs_permission_too if not labelled(["admin"], "read", "Condition", psy).allow

test_sensitive_every_label if {
	every l in [
		{"system": actcode, "code": "PSY"},
		{"system": actcode, "code": "ETH"},
		{"system": actcode, "code": "HIV"},
		{"system": confidentiality, "code": "R"},
		{"system": confidentiality, "code": "V"},
	] {
		not labelled(["doctor"], "read", "Condition", [l]).allow
		labelled(["doctor", "sensitive-access"], "read", "Condition", [l]).allow
	}
}

test_not_sensitive_labels if {
	every l in [
		{"system": confidentiality, "code": "N"},
		{"system": "http://example.org/other", "code": "PSY"},
		{"system": actcode, "code": "R"},
	] {
		d := labelled(["doctor"], "read", "Condition", [l])
		d.allow
		not d.audit
	}
}

test_sensitive_with_permission if {
	d := labelled(["doctor", "sensitive-access"], "read", "Condition", psy)
	d.allow
	d.audit
	d.reason == "allowed by sensitive-access"
}

test_sensitive_access_does_not_widen_role if {
	d := labelled(["insurer", "sensitive-access"], "update", "Condition", psy)
	not d.allow
	contains(d.reason, "may not update Condition")
}

test_sensitive_access_alone_grants_nothing if not labelled(["sensitive-access"], "read", "Condition", psy).allow

test_break_glass_with_reason if {
	d := glass(["doctor"], "read", "Condition", psy, "unconscious patient in ED")
	d.allow
	d.audit
	d.reason == "break-the-glass: unconscious patient in ED"
}

test_break_glass_without_reason if {
	every why in ["", "   "] {
		d := glass(["doctor"], "read", "Condition", psy, why)
		not d.allow
		d.audit
		d.reason == "role(s) doctor may not read sensitive Condition: break-the-glass needs a reason"
	}
}

test_break_glass_does_not_widen_role if {
	d := glass(["insurer"], "read", "Observation", psy, "emergency")
	not d.allow
	d.audit
	d.reason == "role(s) insurer may not read Observation"
}

test_break_glass_always_audited if {
	d := glass(["doctor"], "read", "Observation", [], "checking")
	d.allow
	d.audit
}

test_break_glass_null_is_absent if {
	d := authz.decision with input as {
		"roles": ["doctor"], "interaction": "read", "type": "Condition",
		"security": psy, "break_glass": null,
	}
	not d.allow
	d.reason == "role(s) doctor may not read sensitive Condition without sensitive-access or break-the-glass"
}

# --- malformed input fails closed ------------------------------------------

test_malformed_input_denied if {
	every doc in [
		{"roles": "admin", "interaction": "read", "type": "Patient"},
		{"roles": null, "interaction": "read", "type": "Patient"},
		{"interaction": "read", "type": "Patient"},
		{"roles": ["admin"], "type": "Patient"},
		{"roles": ["doctor"], "interaction": "read"},
		{"roles": ["doctor"], "interaction": "read", "type": "Condition", "security": "PSY"},
		{},
	] {
		d := authz.decision with input as doc
		not d.allow
	}
}
