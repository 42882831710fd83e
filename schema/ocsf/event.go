// Package ocsf writes audit records as OCSF 1.1.0 events: one event per
// record, its class chosen from SAP's category and message (see Map and
// the README's mapping table), the whole SAP record kept in raw_data so
// nothing the API sent is lost and the record reads back exactly.
package ocsf

// Version is the OCSF schema version events follow.
const Version = "1.1.0"

// Event is one OCSF event: the attributes this mapping fills, for JSON
// lines and Parquet alike. Empty strings and nil objects are absent.
// Integers are OCSF's integer_t (INT32), type_uid and time its long_t and
// timestamp_t (INT64, time in epoch milliseconds).
type Event struct {
	ActivityID   int32  `json:"activity_id" parquet:"activity_id"`
	ActivityName string `json:"activity_name" parquet:"activity_name,dict"`
	CategoryUID  int32  `json:"category_uid" parquet:"category_uid"`
	CategoryName string `json:"category_name" parquet:"category_name,dict"`
	ClassUID     int32  `json:"class_uid" parquet:"class_uid"`
	ClassName    string `json:"class_name" parquet:"class_name,dict"`
	TypeUID      int64  `json:"type_uid" parquet:"type_uid"`
	TypeName     string `json:"type_name" parquet:"type_name,dict"`
	SeverityID   int32  `json:"severity_id" parquet:"severity_id"`
	Severity     string `json:"severity" parquet:"severity,dict"`
	StatusID     int32  `json:"status_id" parquet:"status_id"`
	Status       string `json:"status" parquet:"status,dict"`
	Time         int64  `json:"time" parquet:"time"`
	Message      string `json:"message,omitempty" parquet:"message,optional"`

	Metadata Metadata `json:"metadata" parquet:"metadata"`
	Cloud    Cloud    `json:"cloud" parquet:"cloud"`

	Actor       *Actor     `json:"actor,omitempty" parquet:"actor,optional"`
	User        *User      `json:"user,omitempty" parquet:"user,optional"`
	SrcEndpoint *Endpoint  `json:"src_endpoint,omitempty" parquet:"src_endpoint,optional"`
	Service     *Service   `json:"service,omitempty" parquet:"service,optional"`
	API         *API       `json:"api,omitempty" parquet:"api,optional"`
	Resources   []Resource `json:"resources,omitempty" parquet:"resources,list"`
	Table       *Table     `json:"table,omitempty" parquet:"table,optional"`
	// TypeID is Datastore Activity's datastore type (3: Table).
	TypeID *int32 `json:"type_id,omitempty" parquet:"type_id,optional"`

	// Unmapped holds what SAP sent that no OCSF attribute takes.
	Unmapped Unmapped `json:"unmapped" parquet:"unmapped"`
	// RawData is the SAP record in the record schema (one JSON object).
	RawData string `json:"raw_data" parquet:"raw_data"`
}

// Metadata is OCSF's metadata object.
type Metadata struct {
	Version     string   `json:"version" parquet:"version,dict"`
	UID         string   `json:"uid" parquet:"uid"`
	Product     Product  `json:"product" parquet:"product"`
	Profiles    []string `json:"profiles" parquet:"profiles,list"`
	LogName     string   `json:"log_name,omitempty" parquet:"log_name,optional,dict"`
	LogProvider string   `json:"log_provider" parquet:"log_provider,dict"`
	LogVersion  string   `json:"log_version,omitempty" parquet:"log_version,optional,dict"`
	TenantUID   string   `json:"tenant_uid,omitempty" parquet:"tenant_uid,optional,dict"`
}

// Product names what logged the event.
type Product struct {
	Name       string  `json:"name" parquet:"name,dict"`
	VendorName string  `json:"vendor_name" parquet:"vendor_name,dict"`
	Feature    Feature `json:"feature" parquet:"feature"`
}

// Feature is the SAP BTP environment: "Neo" or "Cloud Foundry".
type Feature struct {
	Name string `json:"name" parquet:"name,dict"`
}

// Cloud is OCSF's cloud profile: SAP BTP, the subaccount, the CF org.
type Cloud struct {
	Provider string   `json:"provider" parquet:"provider,dict"`
	Account  *Account `json:"account,omitempty" parquet:"account,optional"`
	Org      *Org     `json:"org,omitempty" parquet:"org,optional"`
}

// Account is a cloud account (the SAP BTP subaccount).
type Account struct {
	UID string `json:"uid" parquet:"uid,dict"`
}

// Org is the Cloud Foundry organization.
type Org struct {
	UID string `json:"uid" parquet:"uid,dict"`
}

// Actor is who performed the activity.
type Actor struct {
	User *User `json:"user,omitempty" parquet:"user,optional"`
}

// User is a user as SAP names it.
type User struct {
	Name string `json:"name" parquet:"name"`
}

// Endpoint is where the activity came from.
type Endpoint struct {
	IP      string `json:"ip,omitempty" parquet:"ip,optional"`
	SvcName string `json:"svc_name,omitempty" parquet:"svc_name,optional,dict"`
	Name    string `json:"name,omitempty" parquet:"name,optional,dict"`
}

// Service is what a user authenticated to (the SAP application).
type Service struct {
	Name string `json:"name" parquet:"name,dict"`
}

// API is the operation of an API Activity.
type API struct {
	Operation string   `json:"operation" parquet:"operation,dict"`
	Service   *Service `json:"service,omitempty" parquet:"service,optional"`
}

// Resource is an object an API Activity acted on: the object SAP's
// message names.
type Resource struct {
	Name string `json:"name,omitempty" parquet:"name,optional"`
	UID  string `json:"uid,omitempty" parquet:"uid,optional"`
	Type string `json:"type,omitempty" parquet:"type,optional,dict"`
}

// Table is the object whose personal data was read or changed.
type Table struct {
	Name string `json:"name,omitempty" parquet:"name,optional"`
	UID  string `json:"uid,omitempty" parquet:"uid,optional"`
}

// Unmapped is what SAP sent that no OCSF attribute takes (OCSF leaves
// unmapped free-form): the record's own fields, and from a JSON message
// its object, data subject, attributes (old and new values) and channel as
// JSON text. Empty fields are absent.
type Unmapped struct {
	SAPCategory    string `json:"sap_category" parquet:"sap_category,dict"`
	SAPApplication string `json:"sap_application,omitempty" parquet:"sap_application,optional,dict"`
	SAPInstanceID  string `json:"sap_instance_id,omitempty" parquet:"sap_instance_id,optional"`
	CFOrgID        string `json:"cf_org_id,omitempty" parquet:"cf_org_id,optional,dict"`
	CFSpaceID      string `json:"cf_space_id,omitempty" parquet:"cf_space_id,optional,dict"`
	CFAppOrService string `json:"cf_app_or_service_id,omitempty" parquet:"cf_app_or_service_id,optional,dict"`
	CFALSServiceID string `json:"cf_als_service_id,omitempty" parquet:"cf_als_service_id,optional,dict"`
	SAPObject      string `json:"sap_object,omitempty" parquet:"sap_object,optional"`
	SAPDataSubject string `json:"sap_data_subject,omitempty" parquet:"sap_data_subject,optional"`
	SAPAttributes  string `json:"sap_attributes,omitempty" parquet:"sap_attributes,optional"`
	SAPChannel     string `json:"sap_channel,omitempty" parquet:"sap_channel,optional,dict"`
	SAPIP          string `json:"sap_ip,omitempty" parquet:"sap_ip,optional"`
	// SAPRawData is the record when it is too long for raw_data.
	SAPRawData string `json:"sap_raw_data,omitempty" parquet:"sap_raw_data,optional"`
}
