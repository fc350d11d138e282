# Yiyang default authorization policy.
#
# The server asks for data.yiyang.authz.decision once per interaction, after
# the SMART scope check, with this input:
#
#   {
#     "roles":       ["doctor", ...],            # from the token's claims
#     "interaction": "read",                     # see classes below
#     "type":        "Observation",              # "" for system-level requests
#     "security":    [{"system": "...", "code": "..."}],  # labels, when known
#     "break_glass": {"reason": "..."},          # absent when not requested
#     "subject":     "Practitioner/123"          # who asks (for overrides)
#   }
#
# and gets {"allow": bool, "reason": string, "audit": bool}.
#
# Interaction classes: read (read, vread, history*), search (search*),
# create, update (update, patch), delete. A typed "operation" needs read
# access to its type (as the scope check does); system-level requests
# (type "") are admin-only.
#
# Role matrix (R = read, S = search, C = create, U = update, D = delete):
#
#   admin        RSCUD on every type (AuditEvent is still read/search only)
#   doctor       RS clinical, directory and Provenance; CU clinical
#   nurse        RS clinical, directory and Provenance; CU Observation,
#                CarePlan, Task, MedicationAdministration, Procedure, Goal,
#                Communication, QuestionnaireResponse, DocumentReference
#   pharmacist   RS Patient, Medication*, Condition, AllergyIntolerance,
#                Observation and directory; CU MedicationDispense;
#                U MedicationRequest (status changes)
#   auditor      RS AuditEvent, Provenance, Claim, Patient and directory
#   insurer      RS Claim, ClaimResponse, Coverage, ExplanationOfBenefit,
#                Encounter, Condition, Procedure, Patient and directory
#   care-worker  RS Patient, CarePlan, Observation, Task, Goal and directory;
#                C Observation; U Task
#   patient      RS clinical and directory (the server confines a patient to
#                their own compartment in its queries)
#   device       R Device; CU Observation
#
# Only admin deletes. Nobody creates, updates or deletes AuditEvent through
# the API: the server writes audit events itself.
#
# Sensitive resources, whose security labels include v3-ActCode PSY, ETH or
# HIV, or v3-Confidentiality R or V, additionally need the role
# "sensitive-access", or break-the-glass with a non-empty reason (allowed with
# reason "break-the-glass: <reason>"). Access to a sensitive resource and any
# break-the-glass request, allowed or not, is marked audit: true.
#
# Override: start the server with a policy directory; every .rego file in it
# replaces this file and must define data.yiyang.authz.decision.
package yiyang.authz

import rego.v1

# --- vocabulary ------------------------------------------------------------

classes := {
	"read": "read",
	"vread": "read",
	"history": "read",
	"history-instance": "read",
	"history-type": "read",
	"history-system": "read",
	"search": "search",
	"search-type": "search",
	"search-system": "search",
	"create": "create",
	"update": "update",
	"patch": "update",
	"delete": "delete",
	"operation": "read",
}

clinical := {
	"Patient", "RelatedPerson", "Person", "Encounter", "EpisodeOfCare",
	"Observation", "Condition", "Procedure", "AllergyIntolerance",
	"Immunization", "DiagnosticReport", "ImagingStudy", "Specimen", "Media",
	"Medication", "MedicationRequest", "MedicationAdministration",
	"MedicationDispense", "MedicationStatement", "CarePlan", "CareTeam",
	"Goal", "Task", "ServiceRequest", "DocumentReference", "Composition",
	"ClinicalImpression", "FamilyMemberHistory", "RiskAssessment",
	"QuestionnaireResponse", "Communication", "CommunicationRequest", "Flag",
	"DetectedIssue", "NutritionOrder", "Appointment", "AppointmentResponse",
	"Device", "DeviceRequest", "DeviceUseStatement", "List", "Consent",
}

# Directory and conformance resources: readable by every person's role.
directory := {
	"Practitioner", "PractitionerRole", "Organization", "Location",
	"HealthcareService", "Endpoint", "Questionnaire", "ValueSet",
	"CodeSystem", "ConceptMap", "StructureDefinition", "SearchParameter",
	"CapabilityStatement", "OperationDefinition", "NamingSystem", "Library",
}

nurse_writes := {
	"Observation", "CarePlan", "Task", "MedicationAdministration", "Procedure",
	"Goal", "Communication", "QuestionnaireResponse", "DocumentReference",
}

pharmacist_reads := {
	"Patient", "Medication", "MedicationRequest", "MedicationDispense",
	"MedicationAdministration", "MedicationStatement", "MedicationKnowledge",
	"Condition", "AllergyIntolerance", "Observation",
}

auditor_reads := {"AuditEvent", "Provenance", "Claim", "Patient"}

insurer_reads := {
	"Claim", "ClaimResponse", "Coverage", "ExplanationOfBenefit", "Encounter",
	"Condition", "Procedure", "Patient",
}

care_worker_reads := {"Patient", "CarePlan", "Observation", "Task", "Goal"}

sensitive_labels := {
	"http://terminology.hl7.org/CodeSystem/v3-ActCode": {"PSY", "ETH", "HIV"},
	"http://terminology.hl7.org/CodeSystem/v3-Confidentiality": {"R", "V"},
}

# --- role matrix -------------------------------------------------------------

# may(role, class, type) holds when role grants class on type. Heads name
# constants where they can so that rule indexing picks the few clauses that
# apply.
may("admin", _, _)

may(r, "read", t) if reads(r, t)

may(r, "search", t) if reads(r, t)

may(r, "create", t) if creates(r, t)

may(r, "update", t) if updates(r, t)

# Nobody but admin deletes.

reads("doctor", t) if t in clinical

reads("doctor", t) if t in directory

reads("doctor", "Provenance")

reads("nurse", t) if t in clinical

reads("nurse", t) if t in directory

reads("nurse", "Provenance")

reads("pharmacist", t) if t in pharmacist_reads

reads("pharmacist", t) if t in directory

reads("auditor", t) if t in auditor_reads

reads("auditor", t) if t in directory

reads("insurer", t) if t in insurer_reads

reads("insurer", t) if t in directory

reads("care-worker", t) if t in care_worker_reads

reads("care-worker", t) if t in directory

reads("patient", t) if t in clinical

reads("patient", t) if t in directory

creates("doctor", t) if t in clinical

updates("doctor", t) if t in clinical

creates("nurse", t) if t in nurse_writes

updates("nurse", t) if t in nurse_writes

creates("pharmacist", "MedicationDispense")

updates("pharmacist", "MedicationDispense")

updates("pharmacist", "MedicationRequest")

creates("care-worker", "Observation")

updates("care-worker", "Task")

creates("device", "Observation")

updates("device", "Observation")

# Read only: search is not granted.
may("device", "read", "Device")

# --- evaluation --------------------------------------------------------------

class := classes[input.interaction]

roles := input.roles

granting contains r if {
	some r in roles
	may(r, class, input.type)
}

immutable if {
	input.type == "AuditEvent"
	class in {"create", "update", "delete"}
}

sensitive if {
	some l in input.security
	l.code in sensitive_labels[l.system]
}

# Labels that are not a list cannot be checked: treat them as sensitive.
sensitive if {
	input.security
	not is_array(input.security)
}

sensitive_access if "sensitive-access" in roles

break_glass if is_object(input.break_glass)

glass_reason := r if {
	r := trim_space(input.break_glass.reason)
	r != ""
}

default audit := false

audit if sensitive

audit if break_glass

who := "a request without roles" if count(roles) == 0
else := sprintf("role(s) %s", [concat(", ", roles)])

what := "the system" if input.type == ""
else := input.type

deny_reason := sprintf("unknown interaction %q", [input.interaction]) if {
	not class
} else := sprintf("%s may not %s %s: audit events are written only by the server", [who, input.interaction, what]) if {
	immutable
} else := sprintf("%s may not %s %s", [who, input.interaction, what]) if {
	count(granting) == 0
} else := sprintf("%s may not %s sensitive %s: break-the-glass needs a reason", [who, input.interaction, what]) if {
	sensitive
	not sensitive_access
	break_glass
	not glass_reason
} else := sprintf("%s may not %s sensitive %s without sensitive-access or break-the-glass", [who, input.interaction, what]) if {
	sensitive
	not sensitive_access
	not glass_reason
}

allow_reason := concat("", ["break-the-glass: ", glass_reason]) if {
	sensitive
	not sensitive_access
} else := "allowed by sensitive-access" if {
	sensitive
} else := "allowed"

# allowed is the whole rule; deny_reason only explains its absence.
allowed if {
	not immutable
	count(granting) > 0
	not sensitive_blocked
}

sensitive_blocked if {
	sensitive
	not sensitive_access
	not glass_reason
}

# Fail closed: input the rules cannot explain (say, roles that are not an
# array) is denied.
default decision := {"allow": false, "reason": "denied: malformed authorization input", "audit": false}

# The first body is the fast path of the common case (unlabelled resource, no
# break-the-glass, a role that grants the interaction); the others decide
# everything else.
decision := {"allow": true, "reason": "allowed", "audit": false} if {
	count(input.security) == 0
	not input.break_glass
	input.type != "AuditEvent"
	some r in input.roles
	may(r, classes[input.interaction], input.type)
} else := {"allow": true, "reason": allow_reason, "audit": audit} if {
	allowed
} else := {"allow": false, "reason": r, "audit": audit} if {
	r := deny_reason
}
