# The Model Studio permission model (shared/model-studio.md, rules 1-15),
# encoded in Rego independently of mspl's policies and of the Cedar
# encoding, for the three-way benchmark and agreement check.
#
# Data: `data.entities[type][id] = {"attrs": …, "parents": [ref, …]}`, with
# every entity reference written `{"type": T, "id": i}` (rego.rs converts
# Cedar's entity JSON). Input: a Cedar request in the same form.
#
# Decisions follow the spec: allow when some permit applies and no forbid
# applies. Generated worlds are complete, so no rule ever meets a missing
# attribute; a missing one would leave the rule undefined (not applying).

package model_studio

import rego.v1

default allow := false

allow if {
	permit
	not forbid
}

# ---------------------------------------------------------------- the request

principal := input.principal

resource := input.resource

action := input.action.id

entity(ref) := data.entities[ref.type][ref.id]

p_attrs := entity(principal).attrs

r_attrs := entity(resource).attrs

ram_identity if principal.type in {"RamUser", "RamRole"}

# ---------------------------------------------------------------- tables

page_operate := {"page.create", "page.edit", "page.delete"}

manage := {
	"workspace.create", "workspace.delete", "member.manage", "apikey.manage",
	"system_admin.view", "feature.activate", "model.activate",
}

api_read := {"sfm:ListIndices", "sfm:GetPromptTemplate"}

api_write := {"sfm:CreateIndex", "sfm:DeleteIndex", "sfm:GetRetrievePromptPipelineMaxLimit"}

admin_features := {"system_administration", "permission_management", "key_management"}

# What each system policy implies besides itself (transitively closed here:
# AdministratorAccess includes data full access, which includes read-only).
implies := {
	"AdministratorAccess": {
		"AliyunBailianFullAccess", "AliyunBailianDataFullAccess",
		"AliyunBailianDataReadOnlyAccess", "AliyunBSSOrderAccess",
		"AliyunBSSReadOnlyAccess",
	},
	"AliyunBailianDataFullAccess": {"AliyunBailianDataReadOnlyAccess"},
}

# The system policies the principal holds, attached or implied.
held contains p if {
	ram_identity
	some p in p_attrs.policies
}

held contains q if {
	ram_identity
	some p in p_attrs.policies
	some q in implies[p]
}

# ---------------------------------------------------------------- accounts

# The account a resource belongs to (rule 1).
resource_account := resource.id if resource.type == "Account"

resource_account := r_attrs.account.id if resource.type in {"Workspace", "RamRole"}

resource_account := entity(r_attrs.workspace).attrs.account.id if resource.type == "Page"

resource_account := entity(input.context.workspace).attrs.account.id if resource.type == "Model"

same_account if resource_account == p_attrs.account.id

# ---------------------------------------------------------------- membership

joined contains w.id if {
	ram_identity
	some w in entity(principal).parents
	w.type == "Workspace"
}

member_of(ws) if ws.id in joined

member_of_account(account_id) if {
	some w in joined
	data.entities.Workspace[w].attrs.account.id == account_id
}

# ---------------------------------------------------------------- rule 1

permit if {
	principal.type == "Account"
	resource_account == principal.id
}

# ---------------------------------------------------------------- rule 2

forbid if {
	ram_identity
	not same_account
}

# ---------------------------------------------------------------- rules 3-6

permit if {
	ram_identity
	action == "page.view"
	resource.type == "Page"
	member_of(r_attrs.workspace)
	not r_attrs.feature in admin_features
}

permit if {
	ram_identity
	action in page_operate
	resource.type == "Page"
	member_of(r_attrs.workspace)
	some op in p_attrs.operations
	op.type == "Page"
	op.id == resource.id
	not r_attrs.feature in admin_features
}

permit if {
	ram_identity
	action in page_operate | {"page.view"}
	resource.type == "Page"
	r_attrs.feature in admin_features
	"AliyunBailianFullAccess" in held
}

permit if {
	ram_identity
	action in manage
	"AliyunBailianFullAccess" in held
}

# ---------------------------------------------------------------- rules 7-9

permit if {
	ram_identity
	action == "model.call"
	resource.type == "Model"
	member_of(input.context.workspace)
}

model_authorized(ws) if {
	some m in ws.attrs.authorized_models
	m.id == resource.id
}

forbid if {
	action == "model.call"
	ws := entity(input.context.workspace)
	ws.attrs.is_default == false
	not model_authorized(ws)
}

# ---------------------------------------------------------------- rules 10-12

forbid if {
	ram_identity
	action == "bill.view_product"
}

permit if {
	ram_identity
	action == "bill.view"
	resource.type == "Account"
	"AliyunBSSReadOnlyAccess" in held
}

permit if {
	ram_identity
	action == "order.pay"
	resource.type == "Account"
	"AliyunBSSOrderAccess" in held
	"AliyunBailianFullAccess" in held
}

# ---------------------------------------------------------------- rule 13

permit if {
	ram_identity
	action in api_read
	resource.type == "Workspace"
	member_of(resource)
	"AliyunBailianDataReadOnlyAccess" in held
}

permit if {
	ram_identity
	action in api_write
	resource.type == "Workspace"
	member_of(resource)
	"AliyunBailianDataFullAccess" in held
}

# ---------------------------------------------------------------- rule 14

permit if {
	ram_identity
	action == "console.login"
	resource.type == "Account"
	member_of_account(resource.id)
}

permit if {
	ram_identity
	action == "console.login"
	resource.type == "Account"
	"AliyunBailianFullAccess" in held
}

# ---------------------------------------------------------------- rule 15

permit if {
	principal.type == "RamUser"
	action == "ram.assume_role"
	resource.type == "RamRole"
	some t in r_attrs.trusted
	t.type == "RamUser"
	t.id == principal.id
	r_attrs.account.id == p_attrs.account.id
}
