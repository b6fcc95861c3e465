import { notSupported } from "../../lib"


export default notSupported()
