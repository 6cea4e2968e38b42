package zalo

// znsFailures are the readable reasons of Zalo's template message
// refusals (docs/providers.md, "ZNS"): sends by phone and, since the same
// service answers them, template messages by user ID. Every one of them is
// permanent.
var znsFailures = map[int]string{
	CodeZNSInvalidPhone:          "Zalo says the phone number is not valid.",
	CodeZNSParamTooLong:          "A parameter is longer than the template allows.",
	CodeZNSParamMissing:          "A parameter the template requires is missing.",
	CodeZNSOutOfBalance:          "The OA is out of ZNS quota or balance; top it up on Zalo.",
	CodeZNSTokenInvalid:          "Zalo refused the OA's access token even after a refresh; reconnect the OA.",
	CodeZNSTemplateNotApproved:   "The template is not approved on Zalo.",
	CodeZNSQuietHours:            "Zalo does not send this kind of template between 22:00 and 06:00.",
	CodeZNSDailyLimit:            "The OA reached its daily ZNS limit.",
	CodeZNSTemplateLowQuality:    "Zalo disabled the template for low quality.",
	CodeZNSTemplateDailyLimit:    "The template reached its daily limit.",
	CodeZNSNoTemplatePermission:  "The OA has no permission to send this template.",
	CodeZNSUserRefused:           "The recipient refused ZNS messages.",
	CodeZNSUserNotEligible:       "The recipient cannot receive ZNS messages.",
	CodeZNSUserNotEligibleOther:  "The recipient is not eligible for this ZNS message.",
	CodeZNSDeprecatedTemplateAPI: "Zalo no longer serves the API this send used.",
	CodeTemplateNotByUserID:      "The template was approved before Zalo allowed sending it by user ID; send it as a ZNS to a phone number.",
}

// TemplateFailureReason returns the readable reason of a template message
// refusal with code, and false for a code that is not one of them.
func TemplateFailureReason(code int) (string, bool) {
	r, ok := znsFailures[code]
	return r, ok
}
